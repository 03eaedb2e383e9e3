"""Local fakes of the providers' APIs, speaking their documented formats (tests, bench)."""

from siyu.channels.fakes.aliyun_sms import FakeAliyunSms
from siyu.channels.fakes.server import FakeServer, Request, Response
from siyu.channels.fakes.smtp import FakeSmtp
from siyu.channels.fakes.tencent_sms import FakeTencentSms
from siyu.channels.fakes.webhook import FakeWebhookReceiver
from siyu.channels.fakes.wechat import FakeWeChat
from siyu.channels.fakes.wecom import FakeWeCom

__all__ = [
    "FakeAliyunSms",
    "FakeServer",
    "FakeSmtp",
    "FakeTencentSms",
    "FakeWeChat",
    "FakeWeCom",
    "FakeWebhookReceiver",
    "Request",
    "Response",
]
