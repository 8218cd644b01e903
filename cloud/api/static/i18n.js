// Every UI string of the console pages, one table per language. 简体中文 by default; the choice
// is kept in localStorage. Elements with data-i18n="key" get their text from here.
export const STRINGS = {
  zh: {
    "lang.switch": "English",
    "nav.overview": "总览", "nav.alarms": "告警看板", "nav.stations": "站点", "nav.quality": "数据质量", "nav.crew": "我的工单",
    "nav.logout": "退出",
    "live.open": "实时", "live.connecting": "连接中…", "live.lost": "连接中断，重连中…",
    "sev.red": "红色", "sev.orange": "橙色", "sev.yellow": "黄色", "sev.blue": "蓝色",
    "alarms.title": "实时告警", "alarms.none": "当前无告警", "alarms.red": "红色告警 {n} 条",
    "col.severity": "级别", "col.type": "类型", "col.station": "站点", "col.point": "测点", "col.message": "说明",
    "col.raised": "发生时间", "col.age": "持续", "col.name": "名称", "col.kind": "类型", "col.region": "区域",
    "col.status": "状态", "col.last_seen": "最后上报", "col.open_alarms": "告警", "col.value": "数值",
    "col.unit": "单位", "col.quality": "质量", "col.sampled": "采样时间",
    "age.s": "{n} 秒", "age.m": "{n} 分钟", "age.h": "{n} 小时", "age.d": "{n} 天",
    "status.online": "在线", "status.offline": "离线", "status.never": "从未上报",
    "stations.title": "站点", "stations.search": "搜索站点编号或名称", "stations.all_regions": "全部区域",
    "stations.all_kinds": "全部类型", "stations.count": "共 {n} 个站点",
    "kind.intake": "取水口", "kind.well": "水源井", "kind.plant": "水厂", "kind.network": "管网",
    "kind.quality": "水质", "kind.pressure": "压力", "kind.pump": "泵站", "kind.level": "水位",
    "kind.drainage": "排水", "kind.other": "其他",
    "station.title": "站点详情", "station.range": "时间范围", "station.from": "开始", "station.to": "结束",
    "station.show": "显示", "station.no_data": "该时段无数据", "station.points": "{n} 个数据点",
    "station.buckets": "{n} 个区间（每区间 {w}，最小/平均/最大）", "station.unknown": "没有该站点或无权查看",
    "range.1h": "1 小时", "range.6h": "6 小时", "range.24h": "24 小时", "range.7d": "7 天", "range.30d": "30 天",
    "range.custom": "自定义",
    "quality.title": "数据质量", "quality.period": "统计周期", "quality.period_hint": "如 2026-10、2026-10-01、2026-Q3、2026-10-01..2026-10-10",
    "quality.region": "区域", "quality.all": "全部", "quality.show": "查询", "quality.overall": "总体",
    "quality.regions": "各区域", "quality.stations": "各站点", "quality.problems": "问题清单",
    "quality.reports": "已生成报表", "quality.no_reports": "暂无报表", "quality.reports_scoped": "报表覆盖全部区域，仅限无区域限制的用户",
    "quality.download": "下载本次结果", "quality.target": "目标 {v}", "quality.ok": "达标", "quality.below": "未达标",
    "quality.drill": "点击区域查看站点", "quality.back": "返回上级", "quality.no_problems": "无",
    "rate.completeness": "完整率", "rate.upload_rate": "上传率", "rate.timeliness": "及时率", "rate.abnormal_rate": "异常率",
    "col.level": "级别", "col.stations": "站点数", "col.expected": "应报", "col.received": "实报", "col.on_time": "及时",
    "col.normal": "正常上报", "col.abnormal": "异常", "col.problem": "问题", "col.detail": "说明", "col.since": "开始",
    "col.kind_report": "类别", "col.period": "周期", "col.formats": "下载",
    "problem.under_target": "未达标", "problem.stopped": "停报", "problem.abnormal_days": "异常天数", "problem.over_permit": "超许可",
    "report.daily": "日报", "report.monthly": "月报", "report.quarterly": "季报",
    "level.province": "省", "level.city": "市", "level.county": "县区",
    "yes": "是", "no": "否", "error": "出错了：{msg}",
    "col.state": "处理状态", "col.actions": "操作",
    "state.raised": "未确认", "state.acknowledged": "已确认", "state.cleared": "已恢复", "state.closed": "已关闭",
    "alarms.ack": "确认", "alarms.assign": "指派", "alarms.assign_ok": "指派", "alarms.cancel": "取消",
    "alarms.assignee": "处理人用户名", "alarms.acked_by": "{who} 确认", "alarms.assigned_to": "指派给 {who}",
    "alarms.level": "已升级 {n} 级", "alarms.flapping": "频繁跳变",
    "crew.title": "我的工单", "crew.none": "暂无工单", "crew.due": "截止 {time}", "crew.overdue": "已超期",
    "crew.accept": "接单", "crew.report": "回单", "crew.notes": "处理情况", "crew.send": "提交",
    "crew.reported": "已回单：{notes}",
    "wo.open": "待指派", "wo.assigned": "待接单", "wo.accepted": "处理中", "wo.reported": "已回单", "wo.closed": "已关闭",
  },
  en: {
    "lang.switch": "中文",
    "nav.overview": "Overview", "nav.alarms": "Alarm board", "nav.stations": "Stations", "nav.quality": "Data quality", "nav.crew": "My work orders",
    "nav.logout": "Log out",
    "live.open": "Live", "live.connecting": "Connecting…", "live.lost": "Connection lost, reconnecting…",
    "sev.red": "Red", "sev.orange": "Orange", "sev.yellow": "Yellow", "sev.blue": "Blue",
    "alarms.title": "Live alarms", "alarms.none": "No open alarms", "alarms.red": "{n} red alarm(s)",
    "col.severity": "Severity", "col.type": "Type", "col.station": "Station", "col.point": "Point", "col.message": "Message",
    "col.raised": "Raised", "col.age": "Age", "col.name": "Name", "col.kind": "Kind", "col.region": "Region",
    "col.status": "Status", "col.last_seen": "Last seen", "col.open_alarms": "Alarms", "col.value": "Value",
    "col.unit": "Unit", "col.quality": "Quality", "col.sampled": "Sampled",
    "age.s": "{n} s", "age.m": "{n} min", "age.h": "{n} h", "age.d": "{n} d",
    "status.online": "Online", "status.offline": "Offline", "status.never": "Never reported",
    "stations.title": "Stations", "stations.search": "Search station id or name", "stations.all_regions": "All regions",
    "stations.all_kinds": "All kinds", "stations.count": "{n} stations",
    "kind.intake": "Intake", "kind.well": "Well", "kind.plant": "Plant", "kind.network": "Network",
    "kind.quality": "Water quality", "kind.pressure": "Pressure", "kind.pump": "Pump", "kind.level": "Level",
    "kind.drainage": "Drainage", "kind.other": "Other",
    "station.title": "Station", "station.range": "Range", "station.from": "From", "station.to": "To",
    "station.show": "Show", "station.no_data": "No data in this range", "station.points": "{n} points",
    "station.buckets": "{n} buckets ({w} each, min/mean/max)", "station.unknown": "No such station, or not yours to see",
    "range.1h": "1 hour", "range.6h": "6 hours", "range.24h": "24 hours", "range.7d": "7 days", "range.30d": "30 days",
    "range.custom": "Custom",
    "quality.title": "Data quality", "quality.period": "Period", "quality.period_hint": "e.g. 2026-10, 2026-10-01, 2026-Q3, 2026-10-01..2026-10-10",
    "quality.region": "Region", "quality.all": "All", "quality.show": "Show", "quality.overall": "Overall",
    "quality.regions": "By region", "quality.stations": "By station", "quality.problems": "Problems",
    "quality.reports": "Stored reports", "quality.no_reports": "No reports yet", "quality.reports_scoped": "Stored reports cover every region: for users without a region scope only",
    "quality.download": "Download these figures", "quality.target": "target {v}", "quality.ok": "Met", "quality.below": "Below target",
    "quality.drill": "Click a region for its stations", "quality.back": "Up one level", "quality.no_problems": "None",
    "rate.completeness": "Completeness", "rate.upload_rate": "Upload rate", "rate.timeliness": "Timeliness", "rate.abnormal_rate": "Abnormal rate",
    "col.level": "Level", "col.stations": "Stations", "col.expected": "Expected", "col.received": "Received", "col.on_time": "On time",
    "col.normal": "Reporting normally", "col.abnormal": "Abnormal", "col.problem": "Problem", "col.detail": "Detail", "col.since": "Since",
    "col.kind_report": "Kind", "col.period": "Period", "col.formats": "Download",
    "problem.under_target": "Under target", "problem.stopped": "Stopped", "problem.abnormal_days": "Abnormal days", "problem.over_permit": "Over permit",
    "report.daily": "Daily", "report.monthly": "Monthly", "report.quarterly": "Quarterly",
    "level.province": "Province", "level.city": "City", "level.county": "County",
    "yes": "Yes", "no": "No", "error": "Something went wrong: {msg}",
    "col.state": "Handling", "col.actions": "Actions",
    "state.raised": "Unacknowledged", "state.acknowledged": "Acknowledged", "state.cleared": "Cleared", "state.closed": "Closed",
    "alarms.ack": "Acknowledge", "alarms.assign": "Assign", "alarms.assign_ok": "Assign", "alarms.cancel": "Cancel",
    "alarms.assignee": "Assignee user name", "alarms.acked_by": "acknowledged by {who}", "alarms.assigned_to": "assigned to {who}",
    "alarms.level": "escalated {n}×", "alarms.flapping": "Flapping",
    "crew.title": "My work orders", "crew.none": "No work orders", "crew.due": "Due {time}", "crew.overdue": "Overdue",
    "crew.accept": "Accept", "crew.report": "Report back", "crew.notes": "What was done", "crew.send": "Send",
    "crew.reported": "Reported: {notes}",
    "wo.open": "Unassigned", "wo.assigned": "To accept", "wo.accepted": "In progress", "wo.reported": "Reported", "wo.closed": "Closed",
  },
};

const KEY = "watertel_lang";
export const TIME_ZONE = "Asia/Shanghai";

export function lang() {
  return localStorage.getItem(KEY) === "en" ? "en" : "zh";
}

export function setLang(value) {
  localStorage.setItem(KEY, value);
  document.documentElement.lang = value === "en" ? "en" : "zh-CN";
  applyI18n();
  window.dispatchEvent(new Event("langchange"));
}

// The string for key in the current language, with {name} placeholders filled in.
export function t(key, vars = {}) {
  const text = STRINGS[lang()][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

export function applyI18n(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}

// Date and time in Asia/Shanghai, whatever the browser's own zone.
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "zh-CN", {
    timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(ms));
}

export function fmtAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t("age.s", {n: s});
  if (s < 3600) return t("age.m", {n: Math.floor(s / 60)});
  if (s < 86400) return t("age.h", {n: Math.floor(s / 3600)});
  return t("age.d", {n: Math.floor(s / 86400)});
}

export function fmtPercent(fraction) {
  return fraction === null || fraction === undefined ? "—" : `${(fraction * 100).toFixed(1)}%`;
}
