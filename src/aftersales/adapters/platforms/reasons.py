"""Platforms' free-text reasons (申请原因) onto vocabulary.Reason.

Platforms send the reason the buyer picked as text (Taobao `reason`, 1688
`applyReason`, WeChat `reason_text`, AliExpress `issue_reason`…), worded differently
everywhere and changed without notice. Matching on keywords, in a fixed order, maps the
obvious ones; anything else is `other`, which DOMAIN.md gives to an agent to decide.
The raw text is always kept in the snapshot's `raw_reason`.

Order matters: "收到商品与描述不符" must be not_as_described, "未收到货" not_received,
"少件" missing_item even when the text also says "质量".
"""

from __future__ import annotations

from functools import lru_cache

from aftersales.domain.vocabulary import Reason

_KEYWORDS: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    (Reason.counterfeit_claim, ("假货", "假冒", "非正品", "counterfeit", "fake")),
    (Reason.missing_item, ("少件", "漏发", "缺件", "少发", "缺少配件", "missing")),
    (Reason.wrong_item, ("发错", "错发", "与订单不符", "wrong item", "wrong product")),
    (Reason.not_received, ("未收到", "没收到", "没有收到", "not received", "not receive")),
    (Reason.lost_in_transit, ("丢件", "物流丢失", "包裹丢失", "lost")),
    (Reason.damaged_in_transit, ("破损", "压坏", "摔坏", "damaged")),
    (Reason.delayed_delivery, ("物流延误", "配送延误", "延误", "delay")),
    (Reason.quality_issue, ("质量", "做工", "瑕疵", "故障", "无法使用", "quality", "defect")),
    (Reason.not_as_described, ("描述不符", "不符", "色差", "not as described")),
    (
        Reason.no_reason,
        ("无理由", "不想要", "不喜欢", "拍错", "多拍", "拍多", "不需要",
         "no longer", "change of mind", "changed my mind", "don't want", "do not want"),
    ),
)


@lru_cache(maxsize=4096)  # buyers pick from a short list: the same texts recur (import path)
def map_reason(text: str | None) -> Reason | None:
    """The domain reason for a platform's reason text; None when the platform sent none."""
    if text is None or not text.strip():
        return None
    folded = text.lower().replace("_", " ")
    for reason, words in _KEYWORDS:
        if any(word in folded for word in words):
            return reason
    return Reason.other
