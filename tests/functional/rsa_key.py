"""RS256 test keys for the fake OpenID Connect providers (tests/functional/test_auth_google.py and
tests/e2e/fake_oidc.py): an RSA-2048 key made by the `openssl` CLI, signatures computed in Python
(stdlib only: Debian's python3 has no RSA of its own)."""

import base64
import hashlib
import os
import re
import subprocess


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class RsaKey:
    """An RSA-2048 key from `openssl genrsa`; RS256 (PKCS#1 v1.5, SHA-256) signing by hand."""

    def __init__(self, kid, workdir):
        self.kid = kid
        path = os.path.join(workdir, kid + ".pem")
        subprocess.run(["openssl", "genrsa", "-out", path, "2048"], check=True, capture_output=True, timeout=60)
        text = subprocess.run(["openssl", "rsa", "-in", path, "-text", "-noout"], check=True,
                              capture_output=True, text=True, timeout=60).stdout
        self.n = self._field(text, "modulus")
        self.d = self._field(text, "privateExponent")
        self.e = 65537

    @staticmethod
    def _field(text, name):
        m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
        return int(re.sub(r"[\s:]", "", m.group(1)), 16)

    def jwk(self):
        size = (self.n.bit_length() + 7) // 8
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": b64url(self.n.to_bytes(size, "big")), "e": b64url(self.e.to_bytes(3, "big"))}

    def sign(self, data):
        size = (self.n.bit_length() + 7) // 8
        digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
        return pow(int.from_bytes(em, "big"), self.d, self.n).to_bytes(size, "big")
