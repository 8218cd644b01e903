"""The application shell: the ``watertel`` command, the demo and the soak, and the process helpers
they share with the tests.

The only layer allowed to import every part (gateway side, cloud, simulators, profiles); nothing
below imports it. Each part registers its own subcommands; ``cli`` only assembles them.
"""
