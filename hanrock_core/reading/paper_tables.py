"""Facts from the paper's tables that the platform reproduces (Table 4 and Table 5)."""

from __future__ import annotations

# Table 5: IEMOCAP sessions (lead-actor code) -> (split, talkturns)
IEMOCAP_SESSIONS: dict[str, tuple[str, int]] = {
    "Ses01F": ("train", 861),
    "Ses01M": ("train", 958),
    "Ses02F": ("train", 889),
    "Ses02M": ("train", 922),
    "Ses03F": ("train", 958),
    "Ses03M": ("train", 1178),
    "Ses04F": ("dev", 1105),
    "Ses04M": ("dev", 998),
    "Ses05F": ("test", 1128),
    "Ses05M": ("test", 1042),
}

# Table 5: SEMAINE recordings -> (split, talkturns).  The paper lists
# 2009.06.26.14.38.17 in both dev (404) and test (440); the test one is given the distinct id
# 2009.06.26.14.38.18 here (see docs/corpus-layouts.md).
SEMAINE_TEST_RENAMED = ("2009.06.26.14.38.17", "2009.06.26.14.38.18")
SEMAINE_SESSIONS: dict[str, tuple[str, int]] = {
    "2008.12.05.16.03.15": ("train", 424),
    "2009.01.30.12.00.35": ("train", 404),
    "2009.02.12.10.49.45": ("train", 686),
    "2009.05.15.15.04.29": ("train", 436),
    "2009.05.29.14.30.05": ("train", 760),
    "2009.05.22.15.17.45": ("train", 668),
    "2009.05.25.11.23.09": ("train", 928),
    "2009.05.26.10.19.53": ("train", 790),
    "2009.06.05.10.14.28": ("train", 732),
    "2009.06.15.12.13.06": ("train", 958),
    "2009.06.19.14.01.24": ("train", 586),
    "2009.10.27.16.17.38": ("train", 440),
    "2008.12.19.11.03.11": ("dev", 188),
    "2009.01.06.14.53.49": ("dev", 472),
    "2009.05.12.15.02.01": ("dev", 448),
    "2009.05.08.11.28.48": ("dev", 752),
    "2009.06.26.14.38.17": ("dev", 404),
    "2008.12.14.14.47.07": ("test", 372),
    "2009.01.06.12.41.42": ("test", 264),
    "2009.01.28.15.35.20": ("test", 364),
    "2009.06.26.14.38.18": ("test", 440),
    "2009.06.26.14.09.45": ("test", 448),
}

# IEMOCAP emotion codes over the whole corpus (10,039 utterances) and the 4-class mapping;
# happy = hap + exc gives Table 4's counts (angry 1103, happy 1636, neutral 1708, sad 1084).
IEMOCAP_CODE_COUNTS: dict[str, int] = {
    "xxx": 2507,
    "fru": 1849,
    "neu": 1708,
    "ang": 1103,
    "sad": 1084,
    "exc": 1041,
    "hap": 595,
    "sur": 107,
    "fea": 40,
    "oth": 3,
    "dis": 2,
}
IEMOCAP_FOUR_CLASS: dict[str, str] = {"ang": "angry", "hap": "happy", "exc": "happy", "neu": "neutral", "sad": "sad"}
