"""A local Alibaba Cloud SMS: checks the RPC v1 signature, timestamp and nonce, answers
SendSms / SendBatchSms / QuerySendDetails in the documented format and error codes, and
produces SmsReport delivery receipts."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from siyu.channels.adapters.aliyun_sms import rpc_signature
from siyu.channels.fakes.server import FakeServer, Request, Response

PHONE = re.compile(r"^1\d{10}$")
CHINA = ZoneInfo("Asia/Shanghai")


class FakeAliyunSms(FakeServer):
    def __init__(
        self, access_key_id: str = "LTAIfake", secret: str = "fake-secret", delay: float = 0.0
    ) -> None:
        super().__init__()
        self.keys = {access_key_id: secret}
        self.delay = delay  # seconds before answering (to kill a client mid-request)
        self.sent: list[dict[str, Any]] = []  # every accepted message, in order
        self.nonces: set[str] = set()
        self.throttle_next = 0  # answer isv.BUSINESS_LIMIT_CONTROL this many times
        self._reported = 0

    def handle(self, request: Request) -> Response:
        params = request.form() if request.method == "POST" else dict(request.query)
        refused = self._authenticate(params)
        if refused is not None:
            return refused
        action = params.get("Action")
        with self.lock:
            if action in ("SendSms", "SendBatchSms") and self.throttle_next > 0:
                self.throttle_next -= 1
                return _answer("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
        if self.delay:
            time.sleep(self.delay)
        if action == "SendSms":
            return self._send(
                params["PhoneNumbers"].split(","), [params.get("TemplateParam") or "{}"], params
            )
        if action == "SendBatchSms":
            try:
                phones = orjson.loads(params["PhoneNumberJson"])
                values = [
                    orjson.dumps(p).decode() for p in orjson.loads(params["TemplateParamJson"])
                ]
                signs = orjson.loads(params["SignNameJson"])
            except (KeyError, orjson.JSONDecodeError):
                return _answer("isv.INVALID_JSON_PARAM", "JSON参数不合法")
            if not len(phones) == len(values) == len(signs) or len(phones) > 100:
                return _answer("isv.INVALID_PARAMETERS", "参数异常")
            return self._send(phones, values, params)
        if action == "QuerySendDetails":
            return self._query(params)
        return Response(
            404,
            _error(
                "InvalidAction.NotFound",
                f"Specified api is not found, please check your url and method: {action}",
            ),
        )

    def _authenticate(self, params: dict[str, str]) -> Response | None:
        secret = self.keys.get(params.get("AccessKeyId", ""))
        if secret is None:
            return Response(
                404, _error("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
            )
        given = params.pop("Signature", "")
        if given != rpc_signature(params, secret):
            return Response(
                400,
                _error(
                    "SignatureDoesNotMatch",
                    "Specified signature is not matched with our calculation.",
                ),
            )
        try:
            stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=UTC
            )
        except ValueError:
            return Response(
                400, _error("MissingTimestamp", "Timestamp is mandatory for this action.")
            )
        if abs(datetime.now(UTC) - stamp) > timedelta(minutes=15):
            return Response(
                400,
                _error(
                    "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
                ),
            )
        with self.lock:
            nonce = params.get("SignatureNonce", "")
            if nonce in self.nonces:
                return Response(
                    400, _error("SignatureNonceUsed", "Specified signature nonce was used already.")
                )
            self.nonces.add(nonce)
        if params.get("Version") != "2017-05-25":
            return Response(
                400, _error("InvalidVersion", "Specified parameter Version is not valid.")
            )
        return None

    def _send(self, phones: list[str], values: list[str], params: dict[str, str]) -> Response:
        if not params.get("TemplateCode", "").startswith("SMS_"):
            return _answer("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        if any(not PHONE.match(str(p)) for p in phones):
            return _answer("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if len(values) == 1 and len(phones) > 1:
            values = values * len(phones)
        biz_id = f"{int(time.time() * 1000)}^{uuid.uuid4().int % 10**10}"
        now = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        with self.lock:
            for phone, value in zip(phones, values, strict=True):
                self.sent.append(
                    {
                        "phone": str(phone),
                        "template": params["TemplateCode"],
                        "params": orjson.loads(value),
                        "out_id": params.get("OutId"),
                        "biz_id": biz_id,
                        "send_time": now,
                    }
                )
        return Response(
            200,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "Code": "OK",
                "Message": "OK",
                "BizId": biz_id,
            },
        )

    def _query(self, params: dict[str, str]) -> Response:
        phone, day = params.get("PhoneNumber", ""), params.get("SendDate", "")
        with self.lock:
            hits = [
                m
                for m in self.sent
                if m["phone"] == phone and m["send_time"][:10].replace("-", "") == day
            ]
        dtos = [
            {
                "PhoneNum": m["phone"],
                "SendStatus": 3,
                "ErrCode": "DELIVERED",
                "TemplateCode": m["template"],
                "Content": orjson.dumps(m["params"]).decode(),
                "SendDate": m["send_time"],
                "ReceiveDate": m["send_time"],
                "OutId": m["out_id"],
            }
            for m in hits
        ]
        return Response(
            200,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "Code": "OK",
                "Message": "OK",
                "TotalCount": len(dtos),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
            },
        )

    def receipts(self, failed_phones: set[str] | None = None) -> list[dict[str, Any]]:
        """SmsReport HTTP-push bodies for messages accepted since the last call."""
        with self.lock:
            fresh, self._reported = self.sent[self._reported :], len(self.sent)
        failed_phones = failed_phones or set()
        return [
            {
                "phone_number": m["phone"],
                "send_time": m["send_time"],
                "report_time": m["send_time"],
                "success": m["phone"] not in failed_phones,
                "err_code": "MK:0001" if m["phone"] in failed_phones else "DELIVERED",
                "err_msg": "用户接收失败" if m["phone"] in failed_phones else "用户接收成功",
                "sms_size": "1",
                "biz_id": m["biz_id"],
                "out_id": m["out_id"],
            }
            for m in fresh
        ]

    def duplicates(self) -> dict[str, int]:
        """(phone, params) sent more than once: should always be empty."""
        counts = Counter(orjson.dumps([m["phone"], m["params"]]).decode() for m in self.sent)
        return {k: v for k, v in counts.items() if v > 1}


def _answer(code: str, message: str) -> Response:
    return Response(200, {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message})


def _error(code: str, message: str) -> dict[str, str]:
    return {
        "RequestId": str(uuid.uuid4()).upper(),
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": code,
        "Message": message,
    }
