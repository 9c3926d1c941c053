package cluster

import (
	"context"
	"testing"
	"time"
)

// TestShardStreams: every shard's stream keeps its entries by age only and carries the
// per-subject bound that makes nats-server write it in 4 MB blocks (see perSubjectBound), a
// bound no shard reaches: its one subject holds every entry of the shard.
func TestShardStreams(t *testing.T) {
	n := startNodes(t, 3, nil, nil)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range n.shards {
		info, err := s.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Config
		if c.MaxMsgsPerSubject != perSubjectBound || len(c.Subjects) != 1 || c.MaxBytes > 0 || c.MaxMsgs > 0 {
			t.Errorf("%s: max per subject %d over subjects %v, max bytes %d, max messages %d; want %d over one subject and no other bound",
				s.name, c.MaxMsgsPerSubject, c.Subjects, c.MaxBytes, c.MaxMsgs, int64(perSubjectBound))
		}
	}
}
