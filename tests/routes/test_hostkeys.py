import pytest
from django.core.exceptions import ValidationError

from routes.hostkeys import host_key_matches, parse_pinned_host_keys
from routes.keys import generate_key_pair


@pytest.fixture(scope="module")
def server_key():
    pair = generate_key_pair("ed25519")
    import base64

    return pair.public_openssh, base64.b64decode(pair.public_openssh.split()[1]), pair.fingerprint


def test_known_hosts_line_bare_key_and_fingerprint_all_pin_the_same_key(server_key):
    public, blob, fingerprint = server_key
    for text in (f"[127.0.0.1]:2222 {public}", public, fingerprint, f"# comment\n\n{fingerprint}"):
        assert host_key_matches(text, blob), text


def test_another_key_does_not_match(server_key):
    public, _, _ = server_key
    other = generate_key_pair("ed25519")
    import base64

    assert not host_key_matches(public, base64.b64decode(other.public_openssh.split()[1]))
    assert not host_key_matches("", base64.b64decode(other.public_openssh.split()[1]))


@pytest.mark.parametrize(
    "text",
    [
        "SHA256:tooshort",
        "sftp.example ssh-rsa not-base64!",
        "garbage",
        "ssh-ed25519 AAAAB3NzaC1yc2E=",
    ],
)
def test_unreadable_lines_are_refused_with_the_line_number(text):
    with pytest.raises(ValidationError, match="Linje 1"):
        parse_pinned_host_keys(text)
