"""Tencent's own sample must be reproduced exactly, and our encryption must round-trip."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from wechatpy.crypto.base import WeChatCipher

from bot.crypto import CallbackCrypto, InvalidCiphertext, InvalidSignature, WrongReceiveId

VECTORS = json.loads((Path(__file__).resolve().parent / "data/wecom_test_vectors.json").read_text())["A"]


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(VECTORS["token"], VECTORS["encoding_aes_key"], VECTORS["corp_id"])


def test_url_verification_vector(crypto: CallbackCrypto) -> None:
    v = VECTORS["verify_url"]
    assert (
        crypto.verify_and_decrypt(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]) == v["expected_reply"]
    )


def test_post_message_vector(crypto: CallbackCrypto) -> None:
    v = VECTORS["post_message"]
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.+?)\]\]></Encrypt>", v["body"]).group(1)  # type: ignore[union-attr]
    plaintext = crypto.verify_and_decrypt(v["msg_signature"], v["timestamp"], v["nonce"], encrypt)
    assert plaintext == v["expected_plaintext"]
    assert "<Content>你好</Content>" in plaintext and "ChenJiaShun" in plaintext
    assert crypto.corp_id == v["expected_receive_id"]


def test_round_trip_and_signature(crypto: CallbackCrypto) -> None:
    message = "<xml><Content><![CDATA[欢迎 welcome]]></Content></xml>"
    params, body = crypto.encrypted_callback(message, "1700000000", "42")
    encrypt = re.search(rb"<Encrypt><!\[CDATA\[(.+?)\]\]>", body).group(1).decode()  # type: ignore[union-attr]
    assert crypto.verify_and_decrypt(params["msg_signature"], "1700000000", "42", encrypt) == message
    with pytest.raises(InvalidSignature):
        crypto.verify(params["msg_signature"], "1700000001", "42", encrypt)


def test_other_corp_is_refused(crypto: CallbackCrypto) -> None:
    other = CallbackCrypto(VECTORS["token"], VECTORS["encoding_aes_key"], "wwotherc0rp0000")
    with pytest.raises(WrongReceiveId):
        crypto.decrypt(other.encrypt("<xml/>"))


@pytest.mark.parametrize("pad", [0, 33, 200])
def test_padding_outside_1_to_32_is_refused(crypto: CallbackCrypto, pad: int) -> None:
    key = base64.b64decode(VECTORS["encoding_aes_key"] + "=")
    plain = b"0" * 16 + b"\x00\x00\x00\x06<xml/>" + VECTORS["corp_id"].encode()
    plain += b"\x00" * (-len(plain) % 32 or 32)
    plain = plain[:-1] + bytes([pad])
    forged = base64.b64encode(WeChatCipher(key).encrypt(plain)).decode()
    with pytest.raises(InvalidCiphertext):
        crypto.decrypt(forged)


@pytest.mark.parametrize("garbage", ["not base64!!", base64.b64encode(b"short").decode(), ""])
def test_garbage_ciphertext_is_refused(crypto: CallbackCrypto, garbage: str) -> None:
    with pytest.raises(InvalidCiphertext):
        crypto.decrypt(garbage)
