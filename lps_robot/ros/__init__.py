"""rclpy nodes (the edge): controller, fake robot; each also starts as a plain `lps node ...`."""
