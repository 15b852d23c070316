"""Sign-in: challenges (link + code), the decoy policy, attempt limits and rate limits."""
