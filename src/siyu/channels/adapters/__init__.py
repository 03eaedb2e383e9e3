"""Channel adapters, built from each tenant's channel accounts and cached per worker."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu.channels.adapters.aliyun_sms import AliyunSms
from siyu.channels.adapters.smtp import Smtp
from siyu.channels.adapters.tencent_sms import TencentSms
from siyu.channels.adapters.webhook import Webhook
from siyu.channels.adapters.wechat import WeChatSubscribe, WeChatTemplate
from siyu.channels.adapters.wecom import (
    WeComClient,
    WeComGroupSend,
    WeComStaffMessage,
    WeComTagMarker,
)
from siyu.channels.ports import ChannelAdapter
from siyu.channels.service import channel_config
from siyu.tenants import TenantContext, get_tenant_by_id

# Channels that talk to WeCom share one account (and so one access token).
WECOM_CHANNELS = ("wecom", "wecom_staff", "wecom_tag")


class Adapters:
    """Adapters per (tenant, channel), rebuilt when the tenant's account changes.

    `overrides` replaces a channel's adapter for every tenant (tests, benchmarks)."""

    def __init__(self, overrides: Mapping[str, ChannelAdapter] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._built: dict[tuple[int, str], tuple[bytes, ChannelAdapter]] = {}
        self._wecom: dict[bytes, WeComClient] = {}
        self._tenants: dict[int, TenantContext] = {}
        self._lock = threading.Lock()

    def tenant(self, session: Session, tenant_id: int) -> TenantContext:
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = get_tenant_by_id(session=session, tenant_id=tenant_id)
        return self._tenants[tenant_id]

    def get(self, session: Session, tenant: TenantContext, channel: str) -> ChannelAdapter | None:
        """The adapter for a tenant's channel, or None when the tenant has not set it up."""
        if channel in self.overrides:
            return self.overrides[channel]
        account = "wecom" if channel in WECOM_CHANNELS else channel
        config = channel_config(session=session, tenant=tenant, channel=account)
        if config is None:
            return None
        fingerprint = orjson.dumps(config, option=orjson.OPT_SORT_KEYS)
        with self._lock:
            cached = self._built.get((tenant.id, channel))
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            adapter = self._build(channel, config, fingerprint)
            self._built[(tenant.id, channel)] = (fingerprint, adapter)
            return adapter

    def _build(self, channel: str, config: Mapping[str, Any], fingerprint: bytes) -> ChannelAdapter:
        if channel == "sms":
            provider = config.get("provider", "aliyun")
            if provider == "aliyun":
                return AliyunSms(config)
            if provider == "tencent":
                return TencentSms(config)
            raise ValueError(f"unknown SMS provider {provider!r} (aliyun, tencent)")
        if channel == "email":
            return Smtp(config)
        if channel in WECOM_CHANNELS:
            if fingerprint not in self._wecom:
                self._wecom[fingerprint] = WeComClient(config)
            client = self._wecom[fingerprint]
            if channel == "wecom":
                return WeComGroupSend(client)
            if channel == "wecom_staff":
                return WeComStaffMessage(client)
            return WeComTagMarker(client)
        if channel == "wechat_subscribe":
            return WeChatSubscribe(config)
        if channel == "wechat_template":
            return WeChatTemplate(config)
        if channel == "webhook":
            return Webhook(config)
        raise ValueError(f"no adapter for channel {channel!r}")

    def close(self) -> None:
        for _fingerprint, adapter in self._built.values():
            adapter.close()
        self._built.clear()
