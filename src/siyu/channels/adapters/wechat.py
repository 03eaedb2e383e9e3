"""WeChat: mini-program subscribe messages and official-account template messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from siyu.channels.adapters.http import failed_request, new_client
from siyu.channels.adapters.tokens import TokenCache, call_with_token
from siyu.channels.ports import InDoubt
from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard

RETRYABLE = {-1, 45009, 45011}  # system busy, frequency limits


class WeChatClient:
    """One app (mini-program or official account) with its cached access token."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.base = str(config.get("base_url", "https://api.weixin.qq.com")).rstrip("/")
        self.appid = str(config["appid"])
        self.secret = str(config["secret"])
        self.http = new_client()
        self.tokens = TokenCache(self._fetch_token)

    def _fetch_token(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(
            f"{self.base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        ).json()
        return answer

    def openid(self, card: ContactCard | None) -> str | None:
        """The person's OpenID in this app (identifiers are `appid/openid`)."""
        if card is None:
            return None
        prefix = f"{self.appid}/"
        return next((v[len(prefix) :] for v in card.wechat_openids if v.startswith(prefix)), None)


class _WeChat:
    max_batch = 50
    path = ""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.client = WeChatClient(config)

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        openid = self.client.openid(card)
        if not openid:
            return None
        return {"openid": openid, "ref": {"wechat_openid": f"{self.client.appid}/{openid}"}}

    def body(self, message: Outbound) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        outcomes: list[SendOutcome] = []
        for message in messages:
            try:
                answer = call_with_token(
                    self.client.http,
                    self.client.tokens,
                    "POST",
                    f"{self.client.base}{self.path}",
                    self.body(message),
                )
            except Exception as error:
                outcomes += failed_request([message], error)
                continue
            code = int(answer.get("errcode", -1))
            outcomes.append(
                SendOutcome(message.key, ok=True, provider_id=str(answer.get("msgid")))
                if code == 0
                else SendOutcome(
                    message.key,
                    ok=False,
                    error_code=str(code),
                    error=str(answer.get("errmsg")),
                    retryable=code in RETRYABLE,
                )
            )
        return outcomes

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        return [None for _ in messages]

    def close(self) -> None:
        self.client.http.close()


def _data(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Template data: `{"thing1": "text"}` becomes `{"thing1": {"value": "text"}}`."""
    data = payload.get("data") or {}
    return {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()}


class WeChatSubscribe(_WeChat):
    """Mini-program subscribe message (one per subscription the user granted)."""

    channel = "wechat_subscribe"
    in_doubt: InDoubt = "give_up"  # no way to ask, no de-duplication: never risk two
    path = "/cgi-bin/message/subscribe/send"

    def body(self, message: Outbound) -> dict[str, Any]:
        body: dict[str, Any] = {
            "touser": message.recipient["openid"],
            "template_id": message.payload["template_id"],
            "data": _data(message.payload),
            "miniprogram_state": message.payload.get("miniprogram_state", "formal"),
            "lang": message.payload.get("lang", "zh_CN"),
        }
        if message.payload.get("page"):
            body["page"] = message.payload["page"]
        return body


class WeChatTemplate(_WeChat):
    """Official-account template message; `client_msg_id` makes WeChat drop a repeat."""

    channel = "wechat_template"
    in_doubt: InDoubt = "resend"
    path = "/cgi-bin/message/template/send"

    def body(self, message: Outbound) -> dict[str, Any]:
        body: dict[str, Any] = {
            "touser": message.recipient["openid"],
            "template_id": message.payload["template_id"],
            "data": _data(message.payload),
            "client_msg_id": message.key[:64],
        }
        for optional in ("url", "miniprogram"):
            if message.payload.get(optional):
                body[optional] = message.payload[optional]
        return body
