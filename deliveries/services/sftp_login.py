"""Logging in to an endpoint as an IT-system's SFTP user, its active key decrypted in memory.

Only the active key is ever used: a key awaiting registration after a rotation is not known to
the Serviceplatform yet, and a refused login is reported, not retried with another key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from deliveries.messages import text
from deliveries.sftp import SftpError
from routes.keys import decrypt_private_key
from routes.models import Endpoint, ITSystem, KeyState, SftpKey, SftpUser


@dataclass(frozen=True)
class SftpLogin:
    sftp_user: SftpUser
    # Decrypted OpenSSH PEM; lives only as long as the job. Out of the repr, so a log line or a
    # traceback that shows the login does not show the key.
    private_key: bytes = field(repr=False)


def sftp_login(*, it_system: ITSystem, endpoint: Endpoint) -> SftpLogin:
    """The IT-system's SFTP user on the endpoint with its active key, decrypted in memory.

    Raises a permanent SftpError that says what an administrator must set up when something is
    missing: retrying cannot conjure up a user or a key.
    """
    sftp_user = (
        SftpUser.objects.select_related("endpoint", "it_system")
        .filter(it_system=it_system, endpoint=endpoint)
        .first()
    )
    if sftp_user is None:
        raise SftpError(
            text("push.no_sftp_user", system=str(it_system), endpoint=str(endpoint)),
            permanent=True,
        )
    return sftp_login_as(sftp_user=sftp_user)


def sftp_login_as(*, sftp_user: SftpUser) -> SftpLogin:
    """`sftp_user` with its active key, decrypted in memory, for a caller that already knows
    which user logs in (a round over one sender's or one recipient's folders).

    Raises a permanent SftpError when the user has no active key or the key cannot be
    decrypted with FLISPORTAL_KEY_ENCRYPTION_KEYS (an operator must add the key it was
    encrypted with): the next try fails the same way until someone acts.
    """
    key = SftpKey.objects.filter(sftp_user=sftp_user, state=KeyState.ACTIVE).first()
    if key is None:
        raise SftpError(
            text(
                "push.no_active_key",
                username=sftp_user.username,
                endpoint=str(sftp_user.endpoint),
            ),
            permanent=True,
        )
    try:
        private_key = decrypt_private_key(bytes(key.encrypted_private_key))
    except ImproperlyConfigured:
        raise SftpError(
            text("push.key_not_decryptable", username=sftp_user.username), permanent=True
        ) from None
    return SftpLogin(sftp_user=sftp_user, private_key=private_key)
