package reach

// GroupsInGo reports whether the lists are added up here because the
// engine sums only one field per $group (FerretDB v1).
func (s *Service) GroupsInGo() bool { return s.ungrouped.Load() }
