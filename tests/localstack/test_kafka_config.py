from pathlib import Path

from portal_localstack.kafka import _cluster_id, server_properties


def test_cluster_ids_never_look_like_an_option() -> None:
    # One in 32 random ids starts with "-" or "_": 2,000 draws would all but surely hit one.
    ids = [_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and i[0].isalnum() for i in ids)
    assert len(set(ids)) == len(ids)


def test_single_node_properties_bind_loopback_and_skip_the_rebalance_delay(tmp_path: Path) -> None:
    props = dict(
        line.split("=", 1) for line in server_properties(19092, 19093, tmp_path).splitlines()
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["process.roles"] == "broker,controller"
