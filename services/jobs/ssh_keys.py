"""`--ssh-public-keys`: a key, or a file of keys, as ovhai takes them; public keys only.

A path given by mistake (`-s ~/.ssh/id_ed25519`, `-s /etc/shadow`) must not be sent to
the API as "keys": every line of a file has to be a public key (`TYPE BASE64 [comment]`,
blank lines and `#` comments aside), otherwise the file is refused, naming the line but
never showing it (it may be a private key or a password hash).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from pathlib import Path

from services.errors import UserError

KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)  # fmt: skip
MAX_FILE = 256 * 1024  # an authorized_keys file; a bigger one is not a list of keys


def is_public_key(line: str) -> bool:
    words = line.split()
    if len(words) < 2 or words[0] not in KEY_TYPES:
        return False
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        return False
    return blob[4:4 + len(words[0])] == words[0].encode()  # the blob names its own type  # fmt: skip


def ssh_public_keys(values: Iterable[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for value in values:
        if value.split(" ", 1)[0] in KEY_TYPES:
            if not is_public_key(value):
                raise UserError(f"--ssh-public-keys: '{value.split()[0]} …' is not a whole public key: paste the line of your .pub file")
            keys.append(value.strip())
        else:
            keys += _keys_in_file(value)
    return tuple(keys)


def _keys_in_file(value: str) -> list[str]:
    path = Path(value).expanduser()
    try:
        if path.stat().st_size > MAX_FILE:
            raise UserError(f"--ssh-public-keys {value}: over {MAX_FILE // 1024} KiB, not a file of public keys: give your .pub file")
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise UserError(f"--ssh-public-keys '{value}' is neither a public key nor a readable file of them") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not is_public_key(line):
            raise UserError(f"--ssh-public-keys {value}: line {number} is not a public key (a private key or another file?): give your .pub file")
        keys.append(line.strip())
    if not keys:
        raise UserError(f"--ssh-public-keys {value}: no public key in it: give your .pub file")
    return keys
