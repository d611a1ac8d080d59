"""Problems with a known answer: GridWorld, random (Garnet) MDPs, dynamic discrete choice, Rust's buses, mazes."""
