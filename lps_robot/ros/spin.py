"""The one `main()` body every node shares: init, spin single-threaded, clean shutdown."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def spin_node(
    factory: Callable[[], Node],
    argv: list[str] | None = None,
    on_shutdown: Callable[[Node], None] | None = None,
) -> int:
    """Run the node built by ``factory`` until Ctrl-C / SIGTERM (jazzy-style init/shutdown).

    A node that refuses its configuration (a `ValueError` such as a bad parameter or spec)
    exits with status 2 and one line on stderr, no traceback."""
    rclpy.init(args=argv)
    try:
        node = factory()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
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
