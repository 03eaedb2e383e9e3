"""Channels: the message outbox, touch policy (consent, caps, quiet hours), adapters to
SMS / e-mail / WeCom / WeChat / webhooks, and the outcomes that come back."""

from siyu.channels.adapters import Adapters
from siyu.channels.credentials import (
    FIELDS as CREDENTIAL_FIELDS,
)
from siyu.channels.credentials import (
    AccountView,
    channel_accounts,
    update_channel_credentials,
)
from siyu.channels.dispatcher import backoff, dispatch
from siyu.channels.outcomes import (
    SMS_PROVIDERS,
    check_confirmations,
    check_wecom_confirmations,
    follow_link,
    handle_sms_callback,
    is_stop_reply,
    unsubscribe_link,
)
from siyu.channels.ports import ChannelAdapter
from siyu.channels.schemas import (
    CHANNELS,
    CONSENT_GROUP,
    CallbackReport,
    Cap,
    DispatchReport,
    MessageView,
    NewMessage,
    Outbound,
    Queued,
    QuietHours,
    SendOutcome,
    TouchPolicy,
)
from siyu.channels.service import (
    channel_config,
    configure_channel,
    count_messages,
    enqueue_messages,
    get_policy,
    list_messages,
    messages_by_key,
    messages_of_person,
    resubscribe,
    set_policy,
    unsubscribe,
    unsubscribed,
)

__all__ = [
    "CREDENTIAL_FIELDS",
    "AccountView",
    "channel_accounts",
    "update_channel_credentials",
    "CHANNELS",
    "CONSENT_GROUP",
    "SMS_PROVIDERS",
    "Adapters",
    "CallbackReport",
    "Cap",
    "ChannelAdapter",
    "DispatchReport",
    "MessageView",
    "NewMessage",
    "Queued",
    "Outbound",
    "QuietHours",
    "SendOutcome",
    "TouchPolicy",
    "backoff",
    "channel_config",
    "check_confirmations",
    "check_wecom_confirmations",
    "configure_channel",
    "count_messages",
    "dispatch",
    "enqueue_messages",
    "follow_link",
    "get_policy",
    "handle_sms_callback",
    "is_stop_reply",
    "list_messages",
    "messages_by_key",
    "messages_of_person",
    "resubscribe",
    "set_policy",
    "unsubscribe",
    "unsubscribe_link",
    "unsubscribed",
]
