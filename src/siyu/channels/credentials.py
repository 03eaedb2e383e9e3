"""Channel credentials as operators edit them: known fields per provider, secrets write-only.

A secret (key, password, app secret) is never shown back: views carry only whether it is
set, and an update that leaves a secret blank keeps the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from siyu.channels.service import channel_config, configure_channel
from siyu.tenants import TenantContext


@dataclass(frozen=True)
class Field:
    name: str
    secret: bool = False
    required: bool = True


_WECOM = (
    Field("corpid"),
    Field("secret", secret=True),
    Field("agentid", required=False),
    Field("base_url", required=False),
)
_WECHAT = (Field("appid"), Field("secret", secret=True), Field("base_url", required=False))
# The fields each adapter reads (channels/adapters), by channel and, for SMS, provider.
FIELDS: dict[str, tuple[Field, ...]] = {
    "sms:aliyun": (
        Field("access_key_id"),
        Field("access_key_secret", secret=True),
        Field("sign_name"),
        Field("region_id", required=False),
        Field("endpoint", required=False),
    ),
    "sms:tencent": (
        Field("secret_id"),
        Field("secret_key", secret=True),
        Field("sdk_app_id"),
        Field("sign_name"),
        Field("region", required=False),
        Field("endpoint", required=False),
    ),
    "email": (
        Field("host"),
        Field("port", required=False),
        Field("from"),
        Field("username", required=False),
        Field("password", secret=True, required=False),
        Field("starttls", required=False),
    ),
    "wecom": _WECOM,
    "wecom_staff": _WECOM,
    "wecom_tag": _WECOM,
    "wechat_subscribe": _WECHAT,
    "wechat_template": _WECHAT,
    "webhook": (Field("secret", secret=True),),
}


@dataclass(frozen=True)
class AccountView:
    """A channel's settings with the secrets left out."""

    form: str  # key of FIELDS, e.g. "sms:aliyun"
    channel: str
    configured: bool
    values: dict[str, str]  # non-secret fields
    secrets_set: frozenset[str]  # which secret fields hold a value
    fields: tuple[Field, ...]


def _form(channel: str, config: dict[str, Any] | None, provider: str | None) -> str:
    if channel != "sms":
        return channel
    return f"sms:{provider or (config or {}).get('provider') or 'aliyun'}"


def channel_accounts(*, session: Session, tenant: TenantContext) -> list[AccountView]:
    """Every channel's account as the settings page shows it (secrets never included)."""
    views = []
    for form, fields in FIELDS.items():
        channel = form.split(":")[0]
        config = channel_config(session=session, tenant=tenant, channel=channel)
        if channel == "sms" and _form(channel, config, None) != form and config:
            config = None  # the other SMS provider is the one configured
        views.append(
            AccountView(
                form=form,
                channel=channel,
                configured=bool(config),
                values={
                    f.name: str(config[f.name])
                    for f in fields
                    if not f.secret and config and config.get(f.name) not in (None, "")
                },
                secrets_set=frozenset(
                    f.name for f in fields if f.secret and config and config.get(f.name)
                ),
                fields=fields,
            )
        )
    return views


def update_channel_credentials(
    *, session: Session, tenant: TenantContext, form: str, values: dict[str, str]
) -> None:
    """Save a channel's settings; blank secrets keep their stored value, blank others unset."""
    if form not in FIELDS:
        raise ValueError(f"unknown channel form {form!r}")
    channel = form.split(":")[0]
    stored = channel_config(session=session, tenant=tenant, channel=channel) or {}
    same_provider = channel != "sms" or _form(channel, stored, None) == form
    config: dict[str, Any] = {"provider": form.split(":")[1]} if channel == "sms" else {}
    missing = []
    for field in FIELDS[form]:
        value = values.get(field.name, "").strip()
        if not value and field.secret and same_provider and stored.get(field.name):
            value = str(stored[field.name])
        if value:
            config[field.name] = int(value) if field.name in ("port", "agentid") else value
        elif field.required:
            missing.append(field.name)
    if missing:
        raise ValueError(f"{form}: required: {', '.join(missing)}")
    if "starttls" in config:
        config["starttls"] = str(config["starttls"]).lower() in ("1", "true", "yes", "on")
    configure_channel(session=session, tenant=tenant, channel=channel, config=config)
