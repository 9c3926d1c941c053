package gql

import (
	"context"
	"time"

	"github.com/smalruby/meshd/broker"
)

// subscriptionBuffer is how many messages one subscription execution may fall behind its
// group before the group's delivery waits for it.
const subscriptionBuffer = 256

// stampsKey carries, in a subscription's context, the channel that receives the publication
// time of every value the subscription emits, in emission order, so that deliveries can be
// timed from publication.
type stampsKey struct{}

// subscribe feeds the values that render picks out of each message of a group into a
// channel that graphql-go executes the subscriber's selection on, until ctx ends.
func subscribe[T any](r *resolver, ctx context.Context, args groupArgs, render func(m *broker.Message, emit func(T))) (<-chan T, error) {
	ch := make(chan T, subscriptionBuffer)
	stamps, _ := ctx.Value(stampsKey{}).(chan time.Time)
	deliver := func(m *broker.Message) {
		render(m, func(v T) {
			if stamps != nil {
				select {
				case stamps <- m.Published:
				case <-ctx.Done():
					return
				}
			}
			select {
			case ch <- v:
			case <-ctx.Done():
			}
		})
	}
	cancel, err := r.b.Subscribe(args.Domain, string(args.GroupID), deliver)
	if err != nil {
		return nil, err
	}
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return ch, nil
}

func (r *resolver) OnMessageInGroup(ctx context.Context, args groupArgs) (<-chan *messageView, error) {
	return subscribe(r, ctx, args, func(m *broker.Message, emit func(*messageView)) { emit(&messageView{m}) })
}

func (r *resolver) OnDataUpdateInGroup(ctx context.Context, args groupArgs) (<-chan *statusView, error) {
	return subscribe(r, ctx, args, func(m *broker.Message, emit func(*statusView)) {
		if m.Status != nil {
			sv := newStatusView(m.Status)
			emit(&sv)
		}
	})
}

func (r *resolver) OnBatchEventInGroup(ctx context.Context, args groupArgs) (<-chan *batchView, error) {
	return subscribe(r, ctx, args, func(m *broker.Message, emit func(*batchView)) {
		if m.Batch != nil {
			emit(&batchView{m.Batch})
		}
	})
}

func (r *resolver) OnGroupDissolve(ctx context.Context, args groupArgs) (<-chan *dissolveView, error) {
	return subscribe(r, ctx, args, func(m *broker.Message, emit func(*dissolveView)) {
		if m.Dissolve != nil {
			emit(&dissolveView{m.Dissolve})
		}
	})
}

func (r *resolver) OnEventInGroup(ctx context.Context, args groupArgs) (<-chan *eventView, error) {
	return subscribe(r, ctx, args, func(m *broker.Message, emit func(*eventView)) {
		if m.Batch == nil {
			return
		}
		for i := range m.Batch.Events {
			emit(&eventView{&m.Batch.Events[i]})
		}
	})
}
