"""The demo's vision table: a row per encoder (raw pixels included), top-5 only for sets with > 5 classes."""
from edge_ssl.demo import vision_table


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
