package models

import "github.com/lintel/lintel/credential/schedule"

// WeeklyColumns stores an optional weekly window in three integer columns
// (schedule_days, schedule_start, schedule_end); days 0 means no schedule.
// Groups and passes embed it, so both read and write the window one way.
type WeeklyColumns struct {
	ScheduleDays  int
	ScheduleStart int
	ScheduleEnd   int
}

// Schedule returns the weekly window, nil meaning no restriction.
func (w *WeeklyColumns) Schedule() *schedule.Weekly {
	if w.ScheduleDays == 0 {
		return nil
	}
	return &schedule.Weekly{Days: schedule.Days(w.ScheduleDays), Start: schedule.Clock(w.ScheduleStart), End: schedule.Clock(w.ScheduleEnd)}
}

// SetSchedule stores ww (nil = no restriction).
func (w *WeeklyColumns) SetSchedule(ww *schedule.Weekly) {
	if ww == nil {
		*w = WeeklyColumns{}
		return
	}
	*w = WeeklyColumns{int(ww.Days), int(ww.Start), int(ww.End)}
}
