"""WeCom callback crypto: signature, AES-256-CBC envelope, receive-id check.

wechatpy supplies the cipher (``WeChatCipher``, AES-CBC with IV = key[:16]) and the encryption
(``PrpCrypto``); we add what it lacks for untrusted input: a constant-time signature check,
strict padding validation (1..32, PROTOCOL.md section 1) and typed errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct

from wechatpy.crypto.base import WeChatCipher
from wechatpy.work.crypto import PrpCrypto

__all__ = ["CallbackCrypto", "CryptoError", "InvalidSignature", "InvalidCiphertext", "WrongReceiveId"]

_BLOCK = 32  # WeCom pads PKCS#7 to 32-byte blocks, not AES's 16


class CryptoError(Exception):
    """A callback that cannot be authenticated or decrypted."""


class InvalidSignature(CryptoError):
    """msg_signature does not match: forged or not for us."""


class InvalidCiphertext(CryptoError):
    """The Encrypt payload is not valid base64/AES/PKCS#7 or its length field lies."""


class WrongReceiveId(CryptoError):
    """The decrypted receive id is not our corp id: forged or misrouted."""


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``sha1("".join(sorted([token, timestamp, nonce, encrypt])))`` in lower-case hex."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324 - protocol-mandated


class CallbackCrypto:
    """Verify, decrypt and encrypt WeCom callback payloads for one app (token, key, corp id)."""

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as err:
            raise ValueError("EncodingAESKey is not valid base64") from err
        self._token = token
        self._key = key
        self._corp_id = corp_id
        self._corp_id_bytes = corp_id.encode()

    @property
    def corp_id(self) -> str:
        return self._corp_id

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        """Raise InvalidSignature unless msg_signature matches (constant-time compare)."""
        expected = signature(self._token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise InvalidSignature("msg_signature mismatch")

    def decrypt(self, encrypt: str) -> str:
        """Decrypt an ``Encrypt`` / ``echostr`` value and check the receive id; return the message."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as err:
            raise InvalidCiphertext("not base64") from err
        if not raw or len(raw) % 16:
            raise InvalidCiphertext("ciphertext length is not a multiple of the AES block")
        plain: bytes = WeChatCipher(self._key).decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise InvalidCiphertext("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise InvalidCiphertext("truncated")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise InvalidCiphertext("length field exceeds payload")
        message = content[4 : 4 + length]
        receive_id = content[4 + length :]
        if not hmac.compare_digest(receive_id, self._corp_id_bytes):
            raise WrongReceiveId("receive id does not match the corp id")
        try:
            return message.decode()
        except UnicodeDecodeError as err:
            raise InvalidCiphertext("message is not UTF-8") from err

    def verify_and_decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        self.verify(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def encrypt(self, message: str, receive_id: str | None = None) -> str:
        """Encrypt as WeCom does (random 16 bytes, length, message, receive id; PKCS#7 to 32)."""
        out = PrpCrypto(self._key).encrypt(message, receive_id or self._corp_id)
        encrypted: bytes = out
        return encrypted.decode()

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self._token, timestamp, nonce, encrypt)

    def encrypted_callback(
        self, inner_xml: str, timestamp: str, nonce: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Build what WeCom POSTs: (query params, outer XML body) for ``inner_xml``."""
        nonce = nonce or str(secrets.randbelow(10**10))
        encrypt = self.encrypt(inner_xml)
        params = {"msg_signature": self.sign(timestamp, nonce, encrypt), "timestamp": timestamp, "nonce": nonce}
        body = (
            f"<xml><ToUserName><![CDATA[{self._corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        ).encode()
        return params, body
