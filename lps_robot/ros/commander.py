"""One commander per arm: who else publishes on our command topics, and who shares our name.

Two controllers on one command topic interleave their commands: each bounds its own steps,
so together they step the arm back and forth between two targets (767 of 787 commands past
the bound in a fault run). The node asks the ROS graph, cheaply on every tick
(`count_publishers`), whether anyone but itself publishes on its command topics, and every
half second whether another node carries its own name; when either happens it refuses to
activate or holds, naming the other node. After activating it commands only once it has been
in the graph longer than one DDS announcement period and its view of the graph has stood
still (`DiscoveryGate`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from rclpy.node import Node

NAME_CHECK_S = 0.5  # how often the (costlier) node-name check runs


def fqn(namespace: str, name: str) -> str:
    return f"{namespace.rstrip('/')}/{name}"


def publisher_count(node: Node, topics: list[str]) -> int:
    """Publishers on the command topics, ours included (cheap: the local graph cache)."""
    return sum(node.count_publishers(t) for t in topics)


def others_on(node: Node, topics: list[str], mine: int) -> list[str]:
    """Other publishers of ``topics`` as 'topic: /ns/node'; ``mine`` is how many of them are
    this node's own (a node with our very name counts beyond those)."""
    me = fqn(node.get_namespace(), node.get_name())
    found, own_seen = [], 0
    for topic in topics:
        for info in node.get_publishers_info_by_topic(topic):
            who = fqn(info.node_namespace, info.node_name)
            if "_UNKNOWN_" in who:
                who = "a node not yet discovered"
            if who == me and own_seen < mine:
                own_seen += 1
                continue
            twin = " (a second node with this node's name)" if who == me else ""
            found.append(f"{topic}: {who}{twin}")
    return found


def namesakes(node: Node) -> int:
    """How many other nodes in the graph carry this node's full name."""
    me = (node.get_name(), node.get_namespace())
    return sum(1 for n in node.get_node_names_and_namespaces() if n == me) - 1


def conflict(node: Node, topics: list[str], mine: int) -> str:
    """'' when this node alone commands ``topics`` and alone has its name, else the reason
    naming the others."""
    others = others_on(node, topics, mine) if publisher_count(node, topics) > mine else []
    twins = namesakes(node)
    if twins > 0:
        others.append(f"{twins} other node(s) named {fqn(node.get_namespace(), node.get_name())}")
    return "; ".join(others)


def graph_view(node: Node, topics: list[str]) -> tuple:
    """What discovery has shown this node so far: the nodes, and the publishers and
    subscribers on its command topics."""
    names = tuple(sorted(node.get_node_names_and_namespaces()))
    return names, publisher_count(node, topics), sum(node.count_subscribers(t) for t in topics)


class DiscoveryGate:
    """Holds the first command after activating until the node has been in the graph for
    ``grace_s`` and its view of the graph has not changed for half of it since activating.

    Discovery has no end signal. Fast DDS announces a participant 5 times in its first 0.5 s,
    then every 3 s: when that first burst is missed, the next chance is 3 s on. A second
    controller activated at once after starting saw the first's publisher 2.9 s after
    activating, after a 2 s grace had let it command (1 of 10 test runs). So the grace runs
    from joining the graph (the node's start), and must exceed the DDS announcement period.
    """

    def __init__(self, grace_s: float, joined: float, now: float) -> None:
        self.grace_s = grace_s
        self.joined, self.changed = joined, now
        self.view: Hashable = None
        self.open = False

    def settled(self, now: float, view: Callable[[], Hashable]) -> bool:
        """True once open (it stays open; a new activation makes a new gate); ``view`` is
        called only while closed."""
        if not self.open:
            seen = view()
            if seen != self.view:
                self.view, self.changed = seen, now
            quiet = now - self.changed >= 0.5 * self.grace_s
            self.open = now - self.joined >= self.grace_s and quiet
        return self.open
