"""The demo's vision table: a row per encoder (raw pixels included), top-5 only for sets with > 5 classes."""
from edge_ssl.demo import knn_verdict, vision_table


def test_vision_table_rows_and_columns():
    scores = {"digits": {"raw pixels (24 px)": {"knn_top1": 0.934, "knn_top5": 0.996, "knn_bn_top1": 0.905,
                                                "linear_probe": 0.88},
                         "simclr": {"knn_top1": 0.87, "knn_top5": 0.99, "knn_bn_top1": 0.88, "linear_probe": 0.9}},
              "lfw": {"raw pixels (24 px)": {"knn_top1": 0.975, "knn_bn_top1": 0.95, "linear_probe": 0.975}}}
    lines = vision_table(scores).splitlines()
    assert lines[0].split(" | ")[1:5] == ["digits k-NN top-1", "digits k-NN top-5", "digits k-NN top-1 (BN)",
                                          "digits linear probe"]
    assert "lfw k-NN top-5" not in lines[0] and lines[0].count("lfw") == 3
    assert lines[2].startswith("| raw pixels (24 px) | 93.4% | 99.6% | 90.5% | 88.0% | 97.5% |")
    assert lines[3].endswith("| 90.0% | - | - | - |")  # simclr was not scored on lfw here


def test_knn_verdict_takes_the_best_protocol_of_each_side():
    rows = {"raw pixels (16 px)": {"knn_top1": 0.933, "knn_bn_top1": 0.908},
            "raw pixels (24 px)": {"knn_top1": 0.934, "knn_bn_top1": 0.905},
            "ViT random init": {"knn_top1": 0.99},  # not a learned feature
            "mae": {"knn_top1": 0.569, "knn_bn_top1": 0.568}, "simclr": {"knn_top1": 0.932, "knn_bn_top1": 0.937}}
    assert knn_verdict(rows) == ("Best learned k-NN top-1: simclr 93.7% (BN features), above raw pixels (24 px) "
                                 "93.4% (L2).")
    rows["simclr"]["knn_bn_top1"] = 0.934
    assert "simclr 93.4% (BN features), not above" in knn_verdict(rows)
    assert knn_verdict({"raw pixels (16 px)": {"knn_top1": 0.9}}) == ""
