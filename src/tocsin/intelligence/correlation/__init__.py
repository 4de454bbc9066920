"""Parts of alert correlation: topology, text similarity, co-occurrence history, root-cause ranking,
baselines, scoring, and the Nezha evaluation set."""
