"""A lean Flyte Admin client: the FlyteRemote surface on flyteidl + grpcio, without flytekit."""
