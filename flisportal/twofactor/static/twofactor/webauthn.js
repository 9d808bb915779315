// Security keys and passkeys (WebAuthn): the browser's half of registering a key and of logging
// in with one. The portal makes and checks each challenge (flisportal/twofactor/securitykeys.py);
// this file only carries them between the page, the browser's WebAuthn API and the portal.
// A file of its own: the Content-Security-Policy forbids inline scripts.
(() => {
  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  const post = async (url, body) => {
    const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    });
    return response.json();
  };

  const say = (button, message) => {
    const box = document.getElementById(button.dataset.errors);
    box.textContent = message;
    box.hidden = false;
  };

  const register = async (button) => {
    const options = await post(button.dataset.begin);
    if (options.error) return say(button, options.error);
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    for (const item of options.excludeCredentials || []) item.id = toBytes(item.id);
    const made = await navigator.credentials.create({ publicKey: options });
    const credential = {
      id: made.id,
      rawId: toText(made.rawId),
      type: made.type,
      response: {
        clientDataJSON: toText(made.response.clientDataJSON),
        attestationObject: toText(made.response.attestationObject),
        transports: made.response.getTransports ? made.response.getTransports() : [],
      },
      clientExtensionResults: made.getClientExtensionResults(),
    };
    const name = document.getElementById(button.dataset.name)?.value || "";
    return post(button.dataset.finish, { credential, name, next: button.dataset.next });
  };

  const logIn = async (button) => {
    const options = await post(button.dataset.begin);
    if (options.error) return say(button, options.error);
    options.challenge = toBytes(options.challenge);
    for (const item of options.allowCredentials || []) item.id = toBytes(item.id);
    const signed = await navigator.credentials.get({ publicKey: options });
    const credential = {
      id: signed.id,
      rawId: toText(signed.rawId),
      type: signed.type,
      response: {
        clientDataJSON: toText(signed.response.clientDataJSON),
        authenticatorData: toText(signed.response.authenticatorData),
        signature: toText(signed.response.signature),
        userHandle: signed.response.userHandle ? toText(signed.response.userHandle) : null,
      },
      clientExtensionResults: signed.getClientExtensionResults(),
    };
    return post(button.dataset.finish, { credential, next: button.dataset.next });
  };

  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("[data-webauthn]")) {
      if (!window.PublicKeyCredential) {
        button.disabled = true;
        continue;
      }
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const ceremony = button.dataset.webauthn === "register" ? register : logIn;
          const answer = await ceremony(button);
          if (answer && answer.redirect) window.location.assign(answer.redirect);
          else if (answer && answer.error) say(button, answer.error);
        } catch (error) {
          say(button, button.dataset.cancelled);
        } finally {
          button.disabled = false;
        }
      });
    }
  });
})();
