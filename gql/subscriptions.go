package gql

import (
	"context"

	"github.com/smalruby/meshd/broker"
)

// subscribe pushes the values that render picks out of each message of a group, with the
// message's publication time, into the feed of the graphql-go execution that ctx belongs to,
// until ctx ends. It never blocks the group's delivery: a feed that is full ends its
// execution instead.
func subscribe[T any](r *resolver, ctx context.Context, args groupArgs, render func(m *broker.Message, emit func(T))) (<-chan T, error) {
	ch := make(chan T)
	f := feedOf(ctx)
	if f == nil {
		// An execution the hub does not run (a test's, say) gets its values handed over in
		// order, without their times.
		f = newFeed()
		go pump(ctx, f, ch)
	}
	f.bind(ch)
	cancel, err := r.b.Subscribe(args.Domain, string(args.GroupID), func(m *broker.Message) {
		render(m, func(v T) { f.push(v, m.Published) })
	})
	if err != nil {
		if refused, ok := ctx.Value(startRefusalKey{}).(*startRefusal); ok {
			refused.err = err
		}
		return nil, err
	}
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return ch, nil
}

// startRefusalKey carries, in a subscription's context, where its resolver records that it
// refused to start (the resolver runs before graphql-go's Subscribe returns), so that the
// subscriber gets one error and neither an ack nor a result.
type startRefusalKey struct{}

type startRefusal struct{ err error }

// pump hands a feed's values to ch in order until ctx ends; a feed that lags closes ch, which
// ends the execution.
func pump[T any](ctx context.Context, f *feed, ch chan<- T) {
	for {
		item, _, lagged := f.pop()
		switch {
		case lagged:
			close(ch)
			return
		case item == nil:
			select {
			case <-f.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case ch <- item.value.(T):
		case <-ctx.Done():
			return
		}
	}
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
