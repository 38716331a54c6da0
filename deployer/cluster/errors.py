"""The one exception type of deployer.cluster."""


class ClusterError(Exception):
    """A node could not be fetched, assembled, started or stopped.

    The message is a single line meant for a terminal; where a log exists the
    message names its path, since the node's own words are the useful part.
    """
