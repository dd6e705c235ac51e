"""The arena graph: state, context schema, builder, and one module per node (nodes/)."""
