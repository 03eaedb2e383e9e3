"""Alibaba Cloud SMS (dysmsapi 2017-05-25): SendSms / SendBatchSms / QuerySendDetails,
RPC-style requests signed with signature v1 (HMAC-SHA1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson

from siyu.channels.adapters.http import failed_request, new_client, same_for_all
from siyu.channels.ports import InDoubt
from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard

API_VERSION = "2017-05-25"
CHINA = ZoneInfo("Asia/Shanghai")  # the provider's day (QuerySendDetails' SendDate)
# Throttling and provider-side faults pass; a wrong number or template will not.
RETRYABLE = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling.User",
    "Throttling",
    "isp.SYSTEM_ERROR",
    "ServiceUnavailable",
    "InternalError",
}


def percent(value: str) -> str:
    """Alibaba's percent-encoding: RFC 3986 unreserved characters kept, space as %20."""
    return quote(value, safe="~")


def rpc_signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    """Signature v1: HMAC-SHA1 over METHOD&%2F&encoded(sorted canonical query)."""
    canonical = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent('/')}&{percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    channel = "sms"
    max_batch = 100  # SendBatchSms takes at most 100 numbers
    in_doubt: InDoubt = "lookup"  # QuerySendDetails returns our OutId
    # Requests in flight at once (a worker's pass sends its chunks over pooled
    # connections); the gateway's own rate limits answer as throttling, retried later.
    parallel = 4

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.endpoint = str(config.get("endpoint", "https://dysmsapi.aliyuncs.com"))
        self.key_id = str(config["access_key_id"])
        self.secret = str(config["access_key_secret"])
        self.sign_name = str(config["sign_name"])
        self.region = str(config.get("region_id", "cn-hangzhou"))
        self.client = new_client()

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        return {"phone": card.phone, "ref": {"phone": card.phone}} if card and card.phone else None

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed RPC call; the parsed JSON answer (errors included)."""
        full = {
            "AccessKeyId": self.key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            **params,
        }
        full["Signature"] = rpc_signature(full, self.secret)
        response = self.client.post(self.endpoint + "/", data=full)
        answer: dict[str, Any] = response.json()
        return answer

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        outcomes: list[SendOutcome] = []
        by_template: dict[str, list[Outbound]] = {}
        for message in messages:
            by_template.setdefault(str(message.payload["template"]), []).append(message)
        keyed = {}
        for template, group in by_template.items():
            for outcome in self._send_group(template, group):
                keyed[outcome.key] = outcome
        outcomes = [keyed[m.key] for m in messages]
        return outcomes

    def _send_group(self, template: str, group: Sequence[Outbound]) -> list[SendOutcome]:
        out_id = out_id_of(group)
        try:
            if len(group) == 1:
                message = group[0]
                answer = self.call(
                    "SendSms",
                    {
                        "PhoneNumbers": str(message.recipient["phone"]),
                        "SignName": self.sign_name,
                        "TemplateCode": template,
                        "TemplateParam": _json(message.payload.get("params") or {}),
                        "OutId": out_id,
                    },
                )
            else:
                answer = self.call(
                    "SendBatchSms",
                    {
                        "PhoneNumberJson": _json([m.recipient["phone"] for m in group]),
                        "SignNameJson": _json([self.sign_name] * len(group)),
                        "TemplateCode": template,
                        "TemplateParamJson": _json([m.payload.get("params") or {} for m in group]),
                        "OutId": out_id,
                    },
                )
        except Exception as error:
            return failed_request(group, error)
        return same_for_all(group, _outcome(answer))

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        """Ask QuerySendDetails (by phone and day) whether a send with our OutId exists."""
        found: list[SendOutcome | None] = []
        for message in messages:
            out_id = str(message.payload.get("_batch") or message.key)
            # Aliyun keeps send records by the day in China, not the UTC day.
            day = str(message.payload.get("_day") or datetime.now(CHINA).strftime("%Y%m%d"))
            answer = self.call(
                "QuerySendDetails",
                {
                    "PhoneNumber": str(message.recipient["phone"]),
                    "SendDate": day,
                    "PageSize": "50",
                    "CurrentPage": "1",
                },
            )
            if answer.get("Code") != "OK":
                raise RuntimeError(
                    f"QuerySendDetails: {answer.get('Code')} {answer.get('Message')}"
                )
            details = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            hit = next((d for d in details if d.get("OutId") == out_id), None)
            found.append(
                None
                if hit is None
                else SendOutcome(message.key, ok=True, provider_id=hit.get("BizId") or out_id)
            )
        return found

    def close(self) -> None:
        self.client.close()


def out_id_of(group: Sequence[Outbound]) -> str:
    """The OutId a request carries: set on the payload before the message was recorded
    as sending (so a lookup after a crash asks for the same one), else the key."""
    return str(group[0].payload.get("_batch") or group[0].key)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _outcome(answer: Mapping[str, Any]) -> SendOutcome:
    code = str(answer.get("Code", "unknown"))
    if code == "OK":
        return SendOutcome("", ok=True, provider_id=str(answer.get("BizId")))
    return SendOutcome(
        "", ok=False, error_code=code, error=str(answer.get("Message")), retryable=code in RETRYABLE
    )
