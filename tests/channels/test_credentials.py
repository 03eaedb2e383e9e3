"""Channel credentials: sealed at rest, write-only in views, blank secrets kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import channels
from siyu.channels.models import ChannelAccount
from siyu.channels.schemas import SECRET_FIELDS
from siyu.tenants import TenantContext


def test_every_secret_field_of_the_forms_is_sealed() -> None:
    for fields in channels.CREDENTIAL_FIELDS.values():
        for field in fields:
            assert field.secret == (field.name in SECRET_FIELDS), field.name


def test_secrets_are_sealed_in_the_store_and_open_for_adapters(
    session: Session, tenant: TenantContext
) -> None:
    channels.update_channel_credentials(
        session=session,
        tenant=tenant,
        form="sms:aliyun",
        values={"access_key_id": "LTAI-id", "access_key_secret": "s3cr3t-v", "sign_name": "小美"},
    )
    raw = session.scalar(
        select(ChannelAccount.config).where(
            ChannelAccount.tenant_id == tenant.id, ChannelAccount.channel == "sms"
        )
    )
    assert raw is not None
    assert raw["access_key_id"] == "LTAI-id"
    assert raw["access_key_secret"].startswith("enc:v1:") and "s3cr3t-v" not in str(raw)
    opened = channels.channel_config(session=session, tenant=tenant, channel="sms")
    assert opened == {
        "provider": "aliyun",
        "access_key_id": "LTAI-id",
        "access_key_secret": "s3cr3t-v",
        "sign_name": "小美",
    }
    view = next(
        a
        for a in channels.channel_accounts(session=session, tenant=tenant)
        if a.form == "sms:aliyun"
    )
    assert view.secrets_set == {"access_key_secret"}
    assert "s3cr3t-v" not in repr(view)


def test_switching_sms_provider_needs_the_new_providers_secret(
    session: Session, tenant: TenantContext
) -> None:
    channels.update_channel_credentials(
        session=session,
        tenant=tenant,
        form="sms:aliyun",
        values={"access_key_id": "a", "access_key_secret": "b", "sign_name": "c"},
    )
    with pytest.raises(ValueError, match="required: secret_key"):
        channels.update_channel_credentials(
            session=session,
            tenant=tenant,
            form="sms:tencent",
            values={"secret_id": "x", "sdk_app_id": "1400", "sign_name": "c"},
        )


def test_legacy_plain_values_still_read(session: Session, tenant: TenantContext) -> None:
    session.add(ChannelAccount(tenant_id=tenant.id, channel="webhook", config={"secret": "plain"}))
    session.flush()
    assert channels.channel_config(session=session, tenant=tenant, channel="webhook") == {
        "secret": "plain"
    }
