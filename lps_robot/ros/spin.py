"""The one `main()` body every node shares: init, spin single-threaded, clean shutdown."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def spin_node(
    factory: Callable[[], Node],
    argv: list[str] | None = None,
    on_shutdown: Callable[[Node], None] | None = None,
) -> int:
    """Run the node built by ``factory`` until Ctrl-C / SIGTERM (jazzy-style init/shutdown)."""
    rclpy.init(args=argv)
    node = factory()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if on_shutdown is not None:
            on_shutdown(node)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
