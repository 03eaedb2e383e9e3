"""A local Tencent Cloud SMS (API 3.0): checks the TC3-HMAC-SHA256 signature and its
timestamp, answers SendSms and PullSmsSendStatusByPhoneNumber in the documented format,
and produces status-callback bodies."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from siyu.channels.adapters.tencent_sms import tc3_authorization
from siyu.channels.fakes.server import FakeServer, Request, Response

PHONE = re.compile(r"^\+861\d{10}$")


class FakeTencentSms(FakeServer):
    def __init__(
        self, secret_id: str = "AKIDfake", secret_key: str = "fake-key", app_id: str = "1400000001"
    ) -> None:
        super().__init__()
        self.keys = {secret_id: secret_key}
        self.app_id = app_id
        self.sent: list[dict[str, Any]] = []
        self._reported = 0

    def handle(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        refused = self._authenticate(headers, request.body)
        if refused is not None:
            return _error(refused[0], refused[1])
        body = request.json()
        action = headers.get("x-tc-action")
        if body.get("SmsSdkAppId") != self.app_id:
            return _error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId不存在。")
        if action == "SendSms":
            return self._send(body)
        if action == "PullSmsSendStatusByPhoneNumber":
            return self._pull(body)
        return _error("InvalidAction", f"接口`{action}`不存在。")

    def _authenticate(self, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
        authorization = headers.get("authorization", "")
        match = re.match(r"TC3-HMAC-SHA256 Credential=([^/]+)/", authorization)
        if not match or match.group(1) not in self.keys:
            return "AuthFailure.SecretIdNotFound", "密钥不存在。"
        stamp = headers.get("x-tc-timestamp", "0")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return (
                "AuthFailure.SignatureExpire",
                "签名过期。Timestamp 和服务器时间相差不得超过五分钟。",
            )
        expected = tc3_authorization(
            secret_id=match.group(1),
            secret_key=self.keys[match.group(1)],
            host=headers.get("host", ""),
            payload=body,
            timestamp=int(stamp),
        )
        if expected != authorization:
            return "AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确。"
        return None

    def _send(self, body: dict[str, Any]) -> Response:
        phones = list(body.get("PhoneNumberSet") or [])
        if not phones or len(phones) > 200:
            return _error("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误。")
        statuses = []
        with self.lock:
            for phone in phones:
                if not PHONE.match(phone):
                    statuses.append(
                        _status(
                            phone,
                            "",
                            body,
                            "InvalidParameterValue.IncorrectPhoneNumber",
                            "invalid phone",
                        )
                    )
                    continue
                serial = f"2433:{uuid.uuid4().int % 10**28}"
                self.sent.append(
                    {
                        "phone": phone,
                        "template": body.get("TemplateId"),
                        "params": list(body.get("TemplateParamSet") or []),
                        "session_context": body.get("SessionContext", ""),
                        "serial": serial,
                        "at": int(time.time()),
                    }
                )
                statuses.append(_status(phone, serial, body, "Ok", "send success"))
        return Response(
            200, {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}
        )

    def _pull(self, body: dict[str, Any]) -> Response:
        phone = body.get("PhoneNumber")
        begin, end = int(body.get("BeginTime", 0)), int(body.get("EndTime", 2**31))
        with self.lock:
            hits = [m for m in self.sent if m["phone"] == phone and begin <= m["at"] <= end]
        rows = [
            {
                "UserReceiveTime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["at"])),
                "CountryCode": "86",
                "SubscriberNumber": m["phone"][3:],
                "PhoneNumber": m["phone"],
                "SerialNo": m["serial"],
                "ReportStatus": "SUCCESS",
                "Description": "用户短信送达成功",
                "SessionContext": m["session_context"],
            }
            for m in hits
        ]
        offset, limit = int(body.get("Offset", 0)), int(body.get("Limit", 100))
        return Response(
            200,
            {
                "Response": {
                    "PullSmsSendStatusSet": rows[offset : offset + limit],
                    "RequestId": str(uuid.uuid4()),
                }
            },
        )

    def receipts(self) -> list[dict[str, Any]]:
        """Status-callback bodies (短信下发状态通知) for messages sent since the last call."""
        with self.lock:
            fresh, self._reported = self.sent[self._reported :], len(self.sent)
        return [
            {
                "user_receive_time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["at"])),
                "nationcode": "86",
                "mobile": m["phone"][3:],
                "report_status": "SUCCESS",
                "errmsg": "DELIVRD",
                "description": "用户短信送达成功",
                "sid": m["serial"],
            }
            for m in fresh
        ]


def _status(
    phone: str, serial: str, body: dict[str, Any], code: str, message: str
) -> dict[str, Any]:
    return {
        "SerialNo": serial,
        "PhoneNumber": phone,
        "Fee": 1 if code == "Ok" else 0,
        "SessionContext": body.get("SessionContext", ""),
        "Code": code,
        "Message": message,
        "IsoCode": "CN",
    }


def _error(code: str, message: str) -> Response:
    return Response(
        200,
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}},
    )
