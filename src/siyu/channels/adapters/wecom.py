"""WeCom (企业微信): group-send tasks for guides (add_msg_template) with their
confirmation tracked, messages to staff (message/send) and tag marking (mark_tag)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from siyu.channels.adapters.http import failed_request, new_client
from siyu.channels.adapters.tokens import TokenCache, call_with_token
from siyu.channels.ports import InDoubt
from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard

# -1 system busy, 45009 API frequency limit, 45033 concurrency limit: try again later.
RETRYABLE = {-1, 45009, 45033}


class WeComClient:
    """One corp's API client with its cached access token."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.base = str(config.get("base_url", "https://qyapi.weixin.qq.com")).rstrip("/")
        self.corpid = str(config["corpid"])
        self.secret = str(config["secret"])
        self.agentid = int(config.get("agentid", 0))
        self.http = new_client()
        self.tokens = TokenCache(self._fetch_token)

    def _fetch_token(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(
            f"{self.base}/cgi-bin/gettoken",
            params={"corpid": self.corpid, "corpsecret": self.secret},
        ).json()
        return answer

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return call_with_token(self.http, self.tokens, "POST", f"{self.base}{path}", body)

    def external_id(self, card: ContactCard | None) -> str | None:
        """The person's external_userid in this corp (identifiers are `corpid/id`)."""
        if card is None:
            return None
        prefix = f"{self.corpid}/"
        return next(
            (v[len(prefix) :] for v in card.wecom_external_userids if v.startswith(prefix)), None
        )

    def group_send_result(self, msgid: str, userid: str) -> list[dict[str, Any]]:
        """get_groupmsg_send_result: per customer, 0 unsent, 1 sent, 2 not a friend,
        3 already received a group message (WeCom's per-customer limit)."""
        answer = self.post(
            "/cgi-bin/externalcontact/get_groupmsg_send_result",
            {"msgid": msgid, "userid": userid, "limit": 1000},
        )
        if answer.get("errcode") != 0:
            raise RuntimeError(
                f"get_groupmsg_send_result: {answer.get('errcode')} {answer.get('errmsg')}"
            )
        return list(answer.get("send_list") or [])

    def close(self) -> None:
        self.http.close()


def _outcome(key: str, answer: Mapping[str, Any], provider_id: str | None) -> SendOutcome:
    code = int(answer.get("errcode", -1))
    if code == 0:
        return SendOutcome(key, ok=True, provider_id=provider_id)
    return SendOutcome(
        key,
        ok=False,
        error_code=str(code),
        error=str(answer.get("errmsg")),
        retryable=code in RETRYABLE,
    )


class _WeCom:
    max_batch = 50
    in_doubt: InDoubt = "give_up"

    def __init__(self, client: WeComClient) -> None:
        self.client = client

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        outcomes = []
        for message in messages:
            try:
                outcomes.append(self.send_one(message))
            except Exception as error:
                outcomes += failed_request([message], error)
        return outcomes

    def send_one(self, message: Outbound) -> SendOutcome:
        raise NotImplementedError

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        return [None for _ in messages]

    def close(self) -> None:
        self.client.close()


class WeComGroupSend(_WeCom):
    """A 1:1 group-send task: WeCom shows it to the guide, who must confirm sending it.
    The confirmation is tracked by polling (channels.check_wecom_confirmations)."""

    channel = "wecom"

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        external = self.client.external_id(card)
        sender = card.staff_id if card is not None else None
        if not external or not sender:
            return None
        ref = {"wecom_external_userid": f"{self.client.corpid}/{external}"}
        return {"external_userid": external, "sender": sender, "ref": ref}

    def send_one(self, message: Outbound) -> SendOutcome:
        body: dict[str, Any] = {
            "chat_type": "single",
            "external_userid": [message.recipient["external_userid"]],
            "sender": message.recipient["sender"],
            "text": {"content": str(message.payload.get("text", ""))},
        }
        if message.payload.get("attachments"):
            body["attachments"] = message.payload["attachments"]
        answer = self.client.post("/cgi-bin/externalcontact/add_msg_template", body)
        if answer.get("errcode") == 0 and message.recipient["external_userid"] in (
            answer.get("fail_list") or []
        ):
            return SendOutcome(
                message.key,
                ok=False,
                error_code="fail_list",
                error="WeCom could not add this customer",
            )
        return _outcome(message.key, answer, answer.get("msgid"))


class WeComStaffMessage(_WeCom):
    """A text message to a staff member (a task for the person's guide)."""

    channel = "wecom_staff"
    # WeCom drops a repeat of the same content to the same user within the check
    # interval (enable_duplicate_check), so resending an in-doubt message is safe.
    in_doubt: InDoubt = "resend"

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        return {"userid": card.staff_id} if card is not None and card.staff_id else None

    def send_one(self, message: Outbound) -> SendOutcome:
        answer = self.client.post(
            "/cgi-bin/message/send",
            {
                "touser": message.recipient["userid"],
                "msgtype": "text",
                "agentid": self.client.agentid,
                "text": {"content": str(message.payload.get("text", ""))},
                "enable_duplicate_check": 1,
                "duplicate_check_interval": 14400,
            },
        )
        return _outcome(message.key, answer, answer.get("msgid"))


class WeComTagMarker(_WeCom):
    """mark_tag on the external contact, as seen by their guide; repeating it is harmless."""

    channel = "wecom_tag"
    in_doubt: InDoubt = "resend"

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        external = self.client.external_id(card)
        userid = card.staff_id if card is not None else None
        return {"external_userid": external, "userid": userid} if external and userid else None

    def send_one(self, message: Outbound) -> SendOutcome:
        answer = self.client.post(
            "/cgi-bin/externalcontact/mark_tag",
            {
                "userid": message.recipient["userid"],
                "external_userid": message.recipient["external_userid"],
                "add_tag": list(message.payload.get("add_tag") or []),
                "remove_tag": list(message.payload.get("remove_tag") or []),
            },
        )
        return _outcome(message.key, answer, None)
