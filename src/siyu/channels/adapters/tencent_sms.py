"""Tencent Cloud SMS (API 3.0, version 2021-01-11): SendSms and
PullSmsSendStatusByPhoneNumber, signed with TC3-HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from siyu.channels.adapters.http import failed_request, new_client
from siyu.channels.ports import InDoubt
from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard

SERVICE = "sms"
API_VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
RETRYABLE = {"RequestLimitExceeded", "InternalError", "InternalError.Timeout"}


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    payload: bytes,
    timestamp: int,
    service: str = SERVICE,
) -> str:
    """The TC3-HMAC-SHA256 Authorization header for a JSON POST to `/`."""
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(f"TC3{secret_key}".encode(), day)
    key = _hmac(_hmac(key, service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def e164(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{phone}"


class TencentSms:
    channel = "sms"
    max_batch = 200  # SendSms takes at most 200 numbers (with the same parameters)
    in_doubt: InDoubt = "lookup"  # status reports carry our SessionContext
    # Requests in flight at once (a worker's pass sends its chunks over pooled
    # connections); the gateway's own rate limits answer as throttling, retried later.
    parallel = 4

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.endpoint = str(config.get("endpoint", "https://sms.tencentcloudapi.com"))
        self.host = urlsplit(self.endpoint).netloc
        self.secret_id = str(config["secret_id"])
        self.secret_key = str(config["secret_key"])
        self.app_id = str(config["sdk_app_id"])
        self.sign_name = str(config["sign_name"])
        self.region = str(config.get("region", "ap-guangzhou"))
        self.client = new_client()

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        return {"phone": card.phone, "ref": {"phone": card.phone}} if card and card.phone else None

    def call(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One signed API 3.0 call; the `Response` object (errors included)."""
        payload = orjson.dumps(body)
        timestamp = int(time.time())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                host=self.host,
                payload=payload,
                timestamp=timestamp,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": API_VERSION,
            "X-TC-Region": self.region,
        }
        response = self.client.post(self.endpoint + "/", content=payload, headers=headers)
        answer: dict[str, Any] = response.json()["Response"]
        return answer

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        # One request per distinct (template, parameters): Tencent sends the same
        # parameters to every number of a request.
        groups: dict[bytes, list[Outbound]] = {}
        for message in messages:
            signature = orjson.dumps([message.payload["template"], _params(message.payload)])
            groups.setdefault(signature, []).append(message)
        keyed: dict[str, SendOutcome] = {}
        for group in groups.values():
            for outcome in self._send_group(group):
                keyed[outcome.key] = outcome
        return [keyed[m.key] for m in messages]

    def _send_group(self, group: Sequence[Outbound]) -> list[SendOutcome]:
        first = group[0]
        try:
            answer = self.call(
                "SendSms",
                {
                    "PhoneNumberSet": [e164(str(m.recipient["phone"])) for m in group],
                    "SmsSdkAppId": self.app_id,
                    "SignName": self.sign_name,
                    "TemplateId": str(first.payload["template"]),
                    "TemplateParamSet": _params(first.payload),
                    "SessionContext": str(first.payload.get("_batch") or first.key),
                },
            )
        except Exception as error:
            return failed_request(group, error)
        refused = answer.get("Error")
        if refused:
            code = str(refused.get("Code"))
            return [
                SendOutcome(
                    m.key,
                    ok=False,
                    error_code=code,
                    error=str(refused.get("Message")),
                    retryable=code in RETRYABLE,
                )
                for m in group
            ]
        by_phone = {s.get("PhoneNumber"): s for s in answer.get("SendStatusSet") or []}
        outcomes = []
        for m in group:
            status = by_phone.get(e164(str(m.recipient["phone"]))) or {}
            code = str(status.get("Code", "missing"))
            outcomes.append(
                SendOutcome(m.key, ok=True, provider_id=status.get("SerialNo"))
                if code == "Ok"
                else SendOutcome(
                    m.key,
                    ok=False,
                    error_code=code,
                    error=str(status.get("Message")),
                    retryable=code in RETRYABLE,
                )
            )
        return outcomes

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        """Status reports of the number since a day back, matched by SessionContext."""
        found: list[SendOutcome | None] = []
        now = int(time.time())
        for message in messages:
            answer = self.call(
                "PullSmsSendStatusByPhoneNumber",
                {
                    "BeginTime": now - 86400,
                    "EndTime": now,
                    "Offset": 0,
                    "Limit": 100,
                    "PhoneNumber": e164(str(message.recipient["phone"])),
                    "SmsSdkAppId": self.app_id,
                },
            )
            if answer.get("Error"):
                raise RuntimeError(f"PullSmsSendStatusByPhoneNumber: {answer['Error']}")
            context = str(message.payload.get("_batch") or message.key)
            hit = next(
                (
                    s
                    for s in answer.get("PullSmsSendStatusSet") or []
                    if s.get("SessionContext") == context
                ),
                None,
            )
            found.append(
                None
                if hit is None
                else SendOutcome(message.key, ok=True, provider_id=hit.get("SerialNo"))
            )
        return found

    def close(self) -> None:
        self.client.close()


def _params(payload: Mapping[str, Any]) -> list[str]:
    """Tencent templates take positional parameters ({1}, {2}, ...)."""
    params = payload.get("params") or []
    values = list(params.values()) if isinstance(params, dict) else list(params)
    return [str(v) for v in values]
