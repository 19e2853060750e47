"""The application's edge: the `jml` command (`app.cli`), the demo (`app.demo`) and the
launchers of local servers (`app.launchers`). It sits on top of every other package and
may import any of them; nothing imports it."""
