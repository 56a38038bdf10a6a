package plugin

import "google.golang.org/protobuf/proto"

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }
