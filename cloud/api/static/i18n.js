// Every UI string of the console pages, one table per language. 简体中文 by default; the choice
// is kept in localStorage. Elements with data-i18n="key" get their text from here.
//
// One catalogue for everything a user reads: rule names, alarm messages, quality flags, API
// errors, point names, units and dates. Pages never print a raw id, a browser-local time or a
// float as it came; they use these helpers (all follow the current language):
//   fmtDateTime(ms, {seconds, zone})  China time, zone shown: "2026-12-07 20:31 (UTC+8)"; the
//                                     console never shows browser-local time. fmtDate(ms): "2026-12-07".
//   fmtNumber(value, unit, point)     decimals by unit (m³/h 2, MPa 3, pH 2, m³ 1, …); counters and
//                                     codes as plain integers (no thousands separators); boolean
//                                     points as 开/关 (running) or 是/否 (a state): fmtBool(v, "onoff"|"yesno").
//   fmtValue(value, unit, point)      fmtNumber and the unit: "12.50 m³/h".
//   fmtPercent(fraction, digits=1)    the rates: "83.3%".
//   unitName(u), pointName(p), flagName(q), ruleName(type)   through the catalogue, else as given.
//   alarmMessage(alarm)               the alarm's message_code + message_params through msg.*,
//                                     else its plain message (older rows, unknown codes).
//   errorText(error)                  an API error (ApiError from common.js: code + params) through
//                                     err.*, else the server's detail; a network failure localised.
//   notEnabledText(code, feature, setting)  "用户由 cloud.yaml 管理：设置 api.users_file 以在此管理".
//   has(key)                          whether the catalogue knows a key.
// The per-section loader, section(box, load), and notEnabled(box, …) are in common.js.
export const STRINGS = {
  zh: {
    "lang.switch": "English",
    "nav.overview": "总览", "nav.alarms": "告警看板", "nav.stations": "站点", "nav.quality": "数据质量", "nav.crew": "我的工单",
    "nav.logout": "退出",
    "admin.audit": "审计日志", "admin.when": "时间", "admin.client": "来源地址", "admin.action": "操作", "admin.older": "更早的记录",
    "admin.chain_ok": "哈希链完整：{n} 条记录均未被改动", "admin.chain_bad": "哈希链在第 {row} 条断开：{reason}",
    "nav.admin": "管理", "admin.denied": "仅管理员可用此页面", "admin.stations": "站点登记", "admin.gateways": "网关与密钥",
    "admin.interval": "上报间隔", "admin.points": "测点", "admin.maintenance": "维护时段", "admin.permit": "取水许可",
    "admin.edit": "编辑", "admin.save": "保存", "admin.saved": "已保存站点 {id}", "admin.unit_min": "分钟", "admin.unit_s": "秒",
    "admin.points_hint": "测点名，用分号分隔，如 flow; total", "admin.maintenance_hint": "每行一个：开始..结束 备注，如 2026-10-12T08:00..2026-10-12T20:00 更换水泵",
    "admin.permit_id": "许可证号（留空：无许可）", "admin.holder": "取水户", "admin.permitted_m3": "许可水量 (m³/年)",
    "admin.year_start": "许可年度起始 (MM-DD)", "admin.plan_annual": "年度计划 (m³)", "admin.gateway": "网关",
    "admin.keys": "签名密钥 (SM2)", "admin.payload_keys": "加密密钥 (SM4)",
    "admin.users": "用户与角色", "admin.username": "用户名", "admin.password": "密码（至少 10 位，不含用户名）", "admin.role": "角色",
    "admin.regions": "区域", "admin.regions_hint": "区域编号，用分号分隔；留空：全部区域", "admin.all_regions": "全部区域",
    "admin.create_user": "新建用户", "admin.reset": "重置密码", "admin.delete": "删除", "admin.new_password": "新密码", "admin.current_password": "当前密码",
    "admin.confirm_delete": "确定删除用户 {name}？", "admin.user_saved": "已保存用户 {name}", "admin.user_deleted": "已删除用户 {name}",
    "admin.register": "注册网关", "admin.rotate": "轮换密钥", "admin.revoke": "吊销 {key}", "admin.key_id": "密钥编号",
    "admin.public_key": "SM2 公钥 (PEM)", "admin.old_valid_until": "旧密钥有效至（含时区，留空：立即）",
    "admin.revoke_old": "立即吊销旧密钥（密钥泄露时）", "admin.gateway_saved": "已保存网关 {id}",
    "admin.confirm_revoke": "确定吊销网关 {id} 的密钥 {key}？吊销后用它签名的数据一律拒收。",
    "admin.routes": "通知路由", "admin.severities": "级别", "admin.level": "升级层级",
    "admin.route_roles": "按角色通知", "admin.quiet_hours": "免打扰时段", "admin.add_route": "添加路由",
    "admin.routes_saved": "已保存通知路由（共 {n} 条），通知进程下一轮生效", "admin.confirm_remove_route": "确定删除第 {n} 条通知路由？",
    "admin.email": "邮箱", "admin.phone": "手机号（短信）", "admin.webhook": "Webhook", "admin.robot": "群机器人", "admin.no_role": "无",
    "admin.save_contact": "保存联系人", "admin.contact_saved": "已保存联系人 {id}", "admin.contact_deleted": "已删除联系人 {id}",
    "admin.confirm_delete_contact": "确定删除联系人 {id}？",
    "admin.reaches": "通知对象", "admin.contacts": "联系人", "admin.channels": "渠道",
    "role.admin": "管理员", "role.operator": "调度员", "role.crew": "维修班组", "role.viewer": "只读",
    "key.current": "当前", "key.previous": "轮换中，有效至", "key.expired": "已过期", "key.revoked": "已吊销", "key.retired": "已停用",
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
    "nav.permits": "取水许可", "nav.fleet": "网关",
    "permits.title": "取水许可", "permits.none": "没有取水许可或无权查看", "permits.as_of": "截至 {time}",
    "permits.legend": "条形：本许可年度取水量占许可水量；竖线为告警分级，虚线为年度计划。",
    "permits.annual_plan": "年度计划 {v}", "permits.bar": "已取水 {v}，许可 {of}", "permits.exceeded_on": "{day} 已超许可",
    "permits.not_reached": "按当前速率本年度不会超许可", "permits.method.run_rate": "按近期速率",
    "permits.method.last_year_profile": "按去年同期曲线", "permits.rate": "{v} m³/天", "permits.no_plan": "无用水计划",
    "permits.plan.annual": "年计划", "permits.plan.monthly": "月计划", "permits.plan.bimonthly": "双月计划",
    "permits.below_tiers": "未达告警线",
    "col.permit": "许可证", "col.holder": "取水户", "col.permit_stations": "计量站点", "col.permit_year": "许可年度",
    "col.withdrawal": "取水量 / 许可水量", "col.share": "占比", "col.tier": "告警级别", "col.projection": "预计超许可日期",
    "col.plan": "用水计划（本期）",
    "fleet.title": "网关运行状态", "fleet.none": "没有网关或无权查看", "fleet.attention": "{n} 个需关注",
    "fleet.stale_after": "超过 {n} 分钟未联系即标为失联。", "fleet.buffer": "{n} 条读数 + {b} 批待发",
    "fleet.never": "从未联系", "fleet.clock.status": "按状态报文估算", "fleet.clock.check_clock": "对时测得",
    "fleet.status.online": "在线", "fleet.status.stale": "失联", "fleet.status.offline": "离线", "fleet.status.stopped": "已停止", "fleet.status.never": "从未联系",
    "col.gateway": "网关", "col.version": "程序版本", "col.config": "配置哈希", "col.clock": "时钟偏差",
    "col.buffer": "缓存积压", "col.last_contact": "最后联系", "col.stations_served": "所辖站点", "col.conditions": "异常状况",
    "alarms.sound_on": "声音提示：开", "alarms.sound_off": "声音提示：关", "alarms.new_red": "新红色告警：{what}",
    // --- alarm-crew part (issue 20, branch alarm-crew): alarm board (ac.*), an alarm's page (al.*),
    // history steps (act.*), the work-order list (wl.*), the crew's phone page (cr.*), its refusals ---
    "ac.workorders": "工单列表 →", "ac.region": "区域", "ac.rule": "规则", "ac.severity": "级别", "ac.state": "状态",
    "ac.time": "发生时间", "ac.from": "从", "ac.to": "至", "ac.reset": "重置", "ac.all": "全部",
    "ac.state.open": "未关闭", "ac.state.raised": "未确认", "ac.state.acknowledged": "已确认",
    "ac.state.cleared": "已恢复待关闭", "ac.state.closed": "已关闭", "ac.state.all": "全部",
    "ac.range.all": "不限", "ac.range.24h": "近 24 小时", "ac.range.7d": "近 7 天", "ac.range.30d": "近 30 天",
    "ac.range.custom": "自定义", "ac.select_all": "全选", "ac.pick": "选择告警 {id}",
    "ac.bulk_ack": "批量确认（{n}）", "ac.bulk_close": "批量关闭（{n}）", "ac.bulk_done": "已处理 {n} 条",
    "ac.bulk_refused": "{n} 条未处理：{why}", "ac.cleared_open": "已恢复，待关闭", "ac.close": "关闭",
    "al.back": "← 告警", "al.title": "告警", "al.timeline": "处理经过", "al.wo": "工单",
    "al.cleared": "恢复时间", "al.acked": "确认", "al.assignee": "负责人", "al.closed": "关闭",
    "al.assign_pick": "选择负责人…", "al.assign_to": "指派给", "al.operators": "值班人员", "al.crews": "维修人员",
    "al.busy": "在办 {n} 单", "al.close": "关闭告警", "al.close_note": "关闭说明（可选）",
    "al.closed_while": "在“{state}”时关闭", "al.comment": "评论", "al.comment_ph": "写下处理意见…",
    "al.crew_needed": "请选择维修人员", "al.crew_pick": "选择维修人员…", "al.no_crew": "没有负责该站点区域的维修人员",
    "al.no_id": "地址中没有告警编号", "al.note_optional": "备注（可选）",
    "al.overdue_note": "工单 {id}（{who}）已超期 {min} 分钟", "al.photo_alt": "现场照片 {n}",
    "al.photo_ref": "工单 {id}：照片 {n}（{kb} kB）", "al.suppressed": "维护期内，已抑制", "al.system": "系统",
    "al.wo_assign": "指派", "al.wo_reassign": "改派", "al.wo_assignee": "维修人员", "al.wo_close": "关闭工单",
    "al.wo_create": "派发工单", "al.wo_due": "截止时间", "al.wo_due_hint": "按“{rule}”默认 {h} 小时",
    "al.wo_none": "尚未派发工单", "al.wo_ref": "工单 {id}", "al.wo_report": "回单", "al.wo_title": "标题",
    "act.raised": "产生告警", "act.acknowledged": "确认", "act.assigned": "指派", "act.comment": "评论",
    "act.escalated": "升级通知", "act.flapping": "频繁跳变", "act.cleared": "恢复", "act.closed": "关闭告警",
    "act.work_order.created": "派发工单", "act.work_order.assigned": "工单指派", "act.work_order.accepted": "接单",
    "act.work_order.reported": "回单", "act.work_order.photo": "上传照片", "act.work_order.closed": "关闭工单",
    "act.work_order.overdue": "工单超期",
    "wl.title": "工单", "wl.col.id": "编号", "wl.col.title": "内容", "wl.col.state": "状态", "wl.col.assignee": "维修人员",
    "wl.col.due": "截止", "wl.col.photos": "照片", "wl.none": "没有工单", "wl.overdue": "已超期",
    "wl.overdue_n": "超期 {n}", "wl.overdue_only": "只看超期", "wl.state_open": "未关闭", "wl.unassigned": "未指派",
    "wl.due_in": "{time}（还剩 {span}）", "wl.due_late": "{time}（已超 {span}）",
    "cr.add_photo": "拍照 / 选照片", "cr.chosen": "已选 {n} 张", "cr.clear": "清除", "cr.discard": "放弃",
    "cr.retry": "重试", "cr.kind.accept": "接单", "cr.kind.photo": "照片", "cr.kind.report": "回单",
    "cr.login_again": "登录已过期：重新登录后，待发送的操作会自动发出", "cr.map.geo": "地图应用",
    "cr.map.amap": "高德地图", "cr.map.baidu": "百度地图", "cr.no_location": "未登记坐标",
    "cr.notes_needed": "请先填写处理情况", "cr.notes_ph": "做了什么、换了什么、结果如何…",
    "cr.offline": "离线：操作先存在手机上，联网后自动发送",
    "cr.offline_kept": "离线：显示 {time} 保存的工单；操作联网后自动发送", "cr.outbox": "{n} 项待发送",
    "cr.photos": "照片 {n} 张", "cr.photos_waiting": "{n} 张待发送", "cr.unsent": "待发送",
    "err.assignee.unknown": "没有用户 {name}：请选择{roles}用户", "err.photo.size": "照片不能超过 {max_kb} kB",
    "err.photo.type": "只接受 JPEG 或 PNG 照片", "err.photo.limit": "每张工单最多 {limit} 张照片",
    "err.photo.unknown": "工单 {order} 没有照片 {id}（或无权查看）",
    "err.idempotency.reuse": "操作编号 {key} 已用于另一项操作", "err.work_order.due": "截止时间须在今后 {days} 天之内",
    "action.add a photo to": "上传照片",
    // --- i18n part (issue 20, branch i18n): formats, catalogue of points, units, flags, rules,
    // alarm messages (msg.*), API errors (err.*), features (feature.*), section loader (section.*) ---
    "audit.login": "登录", "audit.logout": "退出", "audit.alarm_ack": "确认告警 {id}", "audit.alarm_assign": "指派告警 {id}",
    "audit.alarm_comment": "评论告警 {id}", "audit.alarm_close": "关闭告警 {id}", "audit.wo_create": "新建工单",
    "audit.wo_assign": "指派工单 {id}", "audit.wo_accept": "接受工单 {id}", "audit.wo_report": "回报工单 {id}",
    "audit.wo_close": "关闭工单 {id}", "audit.station_put": "保存站点 {id}", "audit.station_delete": "删除站点 {id}",
    "audit.user_create": "新建用户", "audit.user_update": "修改用户 {id}", "audit.user_delete": "删除用户 {id}",
    "audit.user_password": "重置用户 {id} 的密码", "audit.routes_set": "设置通知路由", "audit.contact_put": "保存联系人 {id}",
    "audit.contact_delete": "删除联系人 {id}", "audit.gateway_register": "注册网关", "audit.gateway_rotate": "轮换网关 {id} 的密钥",
    "audit.gateway_revoke": "吊销网关 {id} 的密钥",
    "admin.phone_short": "短信", "admin.channel": "{name}：{id}",
    "fleet.clock": "{v} 秒（{how}）", "fleet.contact": "{time} · {age}前",
    "login.title": "供水监测与数据质量平台", "login.username": "用户名", "login.password": "密码", "login.submit": "登录",
    "console.totals": "数据概况", "console.alarms": "告警", "console.latest": "最新数据", "console.no_data": "暂无数据",
    "console.envelopes": "已验证批次", "console.readings": "读数", "console.refused": "拒收批次",
    "fmt.zone": "UTC+8", "bool.on": "开", "bool.off": "关", "bool.yes": "是", "bool.no": "否", "list.sep": "、", "list.or": "或",
    "section.loading": "加载中…", "section.failed": "本栏加载失败：{msg}", "section.retry": "重试",
    "feature.read_only": "{feature}由 cloud.yaml 管理：设置 {setting} 以在此管理",
    "feature.off": "{feature}未启用：在 cloud.yaml 中设置 {setting} 以启用",
    "feature.users": "用户", "feature.gateways": "网关与密钥", "feature.registry": "站点登记",
    "feature.notifications": "通知路由与联系人", "feature.reports": "数据质量报表", "feature.fleet": "网关运行状态",
    "err.network": "无法连接服务器，请检查网络后重试",
    "err.http.400": "请求无法读取", "err.http.401": "请先登录", "err.http.403": "无权进行此操作",
    "err.http.404": "没有该对象或无权查看", "err.http.409": "当前状态不允许此操作", "err.http.422": "提交的内容有误",
    "err.http.429": "请求过多，请稍后再试", "err.http.500": "服务器内部错误", "err.http.503": "服务暂不可用，请稍后再试",
    "unit.m3/h": "m³/h", "unit.m3": "m³", "unit.m3/d": "m³/天", "unit.degC": "°C", "unit.uS/cm": "μS/cm", "unit.-": "",
    "unit.mg/L": "mg/L", "unit.NTU": "NTU", "unit.pH": "", "unit.MPa": "MPa", "unit.kPa": "kPa", "unit.m": "m",
    "unit.m/s": "m/s", "unit.Hz": "Hz", "unit.A": "A", "unit.V": "V", "unit.mV": "mV", "unit.kW": "kW",
    "unit.kWh": "kWh", "unit.kvarh": "kvarh",
    "point.*": "整站", "point.flow": "瞬时流量", "point.total": "累计流量", "point.forward_total": "正向累计流量",
    "point.net_total": "净累计流量", "point.velocity": "流速", "point.pressure": "压力", "point.level": "水位",
    "point.water_column": "水柱高度", "point.depth_to_water": "埋深", "point.turbidity": "浊度", "point.ph": "pH",
    "point.free_chlorine": "游离氯", "point.residual_chlorine": "余氯", "point.total_chlorine": "总氯",
    "point.chlorine_dioxide": "二氧化氯", "point.codmn": "高锰酸盐指数", "point.conductivity": "电导率",
    "point.temperature": "水温", "point.dissolved_oxygen": "溶解氧", "point.electrode_mv": "电极电位",
    "point.running": "运行", "point.run_command": "启停命令", "point.fault_code": "故障代码", "point.remote_mode": "远程控制",
    "point.speed_setpoint": "转速设定", "point.frequency": "频率", "point.current": "电流", "point.current_l1": "A 相电流",
    "point.current_l2": "B 相电流", "point.current_l3": "C 相电流", "point.voltage_l1": "A 相电压",
    "point.voltage_l2": "B 相电压", "point.voltage_l3": "C 相电压", "point.power": "功率", "point.active_power": "有功功率",
    "point.energy": "电量", "point.active_energy": "有功电量", "point.reactive_energy": "无功电量",
    "point.power_factor": "功率因数", "point.sample_flow_ok": "采样水流正常", "point.cleaning_start": "电极清洗",
    "point.low_alarm_setpoint": "低限报警设定", "point.no_signal": "无信号", "point.signal_quality": "信号质量",
    "point.firmware_version": "固件版本", "point.permit": "取水许可",
    "flag.OK": "正常", "flag.TIMEOUT": "超时", "flag.EXCEPTION": "设备异常应答", "flag.OUT_OF_RANGE": "超量程",
    "flag.SENSOR_FAULT": "传感器故障", "flag.COMM_ERROR": "通信故障", "flag.TOTAL_ROLLOVER": "累计量溢出归零",
    "flag.TOTAL_RESET": "累计量回退", "flag.CLOCK_UNSYNCED": "时钟未同步",
    "rule.device_fault": "设备故障", "rule.clock_unsynced": "网关时钟未同步", "rule.totaliser_reset": "累计量回退",
    "rule.data_stopped": "数据停报", "rule.consecutive_zeros": "连续报零", "rule.spike": "冒大数",
    "rule.volume_change": "水量突变", "rule.water_quality": "水质超标", "rule.night_flow": "夜间最小流量升高",
    "rule.mass_balance": "水量不平衡", "rule.burst": "疑似爆管", "rule.over_permit": "超许可取水",
    "rule.over_plan": "超计划取水", "rule.over_permit_projected": "预计超许可", "rule.refused_envelope": "数据包拒收",
    "rule.chain_gap": "报文链缺失", "rule.gateway_offline": "网关离线", "rule.buffer_full": "网关缓存已满",
    "msg.was": "（由{was}升级）", "msg.part.faults": "{point}（{quality}）",
    "msg.part.plans": "{plan} {first} 至 {last}：{volume} / {planned} {unit}（{share}）",
    "msg.device_fault": "设备故障：{faults}", "msg.clock_unsynced": "网关时钟未同步，采样时间可能不准",
    "msg.totaliser_reset": "{point}回退到 {value} {unit}：是否更换或清零了表计？",
    "msg.data_stopped": "自 {last_ms}（最后一次采样）起无数据，应每 {interval_s}上报一次，已缺报 {missed} 次",
    "msg.data_stopped.never": "自 {start_ms}（开始服务）起从未上报，应每 {interval_s}上报一次",
    "msg.data_stopped.since_start": "自 {start_ms}（恢复服务）起无数据（最后一次采样 {last_ms}），应每 {interval_s}上报一次",
    "msg.consecutive_zeros": "{point}自 {since_ms} 起连续 {reports} 次报零",
    "msg.spike.out_of_range": "{point} {value} {unit}，超出仪表量程（网关标记）",
    "msg.spike.above_max": "{point} {value} {unit}，超过最大流量 {limit} {unit}",
    "msg.spike.jump": "{point}在 {elapsed_s}内跳增 {step} {unit}，达到 {value} {unit}（最多允许 {allowed} {unit}）",
    "msg.volume_change": "{day} 日水量 {volume} {unit}，较前 {days} 天中位数 {median} {unit} 变化 {change_share}",
    "msg.water_quality.above": "{point} {value} {unit}，高于上限 {limit} {unit}（自 {since_ms} 起超标）",
    "msg.water_quality.below": "{point} {value} {unit}，低于下限 {limit} {unit}（自 {since_ms} 起超标）",
    "msg.night_flow": "{point} {day} 夜间（{window}）最小流量 {flow} {unit}，高于前 {nights} 夜中位数 {median} {unit}（阈值 {threshold} {unit}）",
    "msg.mass_balance": "计量区 {area}：进水 {inflow} {unit}，未计量水量 {loss} {unit}，超过限值 {limit} {unit}（截至 {until_ms} 的 {window_s}）",
    "msg.burst": "疑似爆管：{flow_point}由 {flow_before} 升至 {flow_after} {flow_unit}（{rise_share}），{pressure_point}由 {pressure_before} 降至 {pressure_after} {pressure_unit}（{drop_share}）",
    "msg.over_permit": "许可证 {permit}（{holder}，许可年度自 {year_start}）：已取水 {volume} {unit}，许可 {permitted} {unit}（{share}），已达 {tier_share} 告警线",
    "msg.over_plan": "许可证 {permit}（{holder}，许可年度自 {year_start}）：{plans}",
    "msg.over_permit_projected": "许可证 {permit}（{holder}，许可年度自 {year_start}）：已取水 {volume} {unit}（{share}），{method}预计 {date} 达到许可水量 {permitted} {unit}（每天 {rate} {rate_unit}）",
    "msg.chain_gap": "报文链缺失 {count} 个（序号 {missing}）", "msg.gateway_offline": "网关离线（遗嘱消息或正常停止）",
    "msg.buffer_full": "网关缓存已满：{detail}", "msg.refused_envelope": "数据包被拒收：{reason}（{detail}）",
    "refusal.bad_signature": "签名校验失败", "refusal.unknown_key": "未登记的密钥", "refusal.key_revoked": "密钥已吊销",
    "refusal.key_expired": "密钥已过期", "refusal.chain_mismatch": "哈希链不连续", "refusal.seq_reused": "序号重复",
    "refusal.not_encrypted": "未按要求加密", "refusal.topic_mismatch": "主题与网关不符", "refusal.unknown_station": "未登记的站点",
    "refusal.truncated": "报文不完整", "refusal.bad_magic": "不是 watertel 报文", "refusal.bad_ciphertext": "密文无法解密",
    "refusal.no_payload_key": "缺少加密密钥", "refusal.payload_key_expired": "加密密钥已过期",
    "action.acknowledge": "确认", "action.assign": "指派", "action.comment on": "评论", "action.close": "关闭",
    "action.make a work order for": "派工单", "action.make a second work order for": "再派工单", "action.assigned": "指派",
    "action.accepted": "接单", "action.reported": "回单", "action.closed": "关闭", "state.already in a work order": "已有工单",
    "err.auth.required": "请先登录", "err.auth.csrf": "会话校验失败，请刷新页面后重试",
    "err.auth.role": "{role}角色无权进行此操作（需要：{roles}）", "err.auth.failed": "用户名或密码错误",
    "err.auth.too_many": "登录失败次数过多，请 {wait_s}后再试",
    "err.auth.busy": "同时登录的人太多，请稍后再试", "err.body.too_large": "提交的内容过大（最多 {max_kb} kB）",
    "err.password.short": "密码至少需要 {min} 个字符（几个词组成的短语最容易记）", "err.password.simple": "密码至少需要 {min} 个不同的字符",
    "err.password.user_name": "密码不能是或包含用户名", "err.password.common": "这是常见密码，请换一个",
    "err.password.current": "修改自己的密码需要输入当前密码",
    "err.events.closing": "服务器正在关闭，请稍后重连", "err.events.too_many": "每个用户最多同时打开 {max} 个实时连接，请先关闭一个",
    "err.regions.need_registry": "设置区域需要站点登记：在 cloud.yaml 中设置 {setting}",
    "err.regions.unknown": "站点登记中没有这些区域：{regions}（请填写省、市或县区编号）",
    "err.regions.outside": "只能填写你所辖的区域：{regions}", "err.user.unknown": "没有用户 {name}（或不在你的区域内）",
    "err.user.exists": "用户 {name} 已存在，请换一个用户名", "err.user.last_admin": "这样将没有管理全部区域的管理员：请先另建一个",
    "err.user.self_change": "不能修改自己的角色或区域（请其他管理员操作）", "err.user.self_delete": "不能删除自己（请其他管理员操作）",
    "err.file.problems": "{file}文件有问题，请先修正：{problems}", "err.invalid": "提交的内容有误：{problems}",
    "err.request.invalid": "提交的内容有误：{fields}",
    "err.stations.unknown": "站点登记中没有这些站点：{stations}（请先添加）",
    "err.gateway.outside": "该网关有站点不在你的区域内，不能由你修改", "err.gateway.unknown": "没有网关 {gateway}",
    "err.gateway.exists": "网关 {gateway} 已存在（请改为轮换密钥）",
    "err.key.current": "{key} 是当前密钥：请轮换到新密钥，并选择立即吊销旧密钥", "err.key.revoked": "密钥 {key} 已吊销",
    "err.key.unknown": "网关 {gateway} 没有密钥 {key}",
    "err.key.bad_pem": "不是 SM2 公钥 PEM：请提交 `watertel keys new` 生成的 .pub.pem 文件内容",
    "err.key.file_exists": "已有另一把编号为 {key} 的密钥：请换一个密钥编号", "err.key.used": "密钥编号 {key} 已被网关 {gateway} 用过：请换一个",
    "err.notifications.scope": "通知路由与联系人覆盖全部区域：只有管理全部区域的管理员可以修改",
    "err.id.mismatch": "编号 {id} 与地址中的 {path} 不一致", "err.contact.unknown": "没有联系人 {contact}",
    "err.contact.in_use": "联系人 {contact} 被第 {routes} 条通知路由使用：请先从这些路由中移除",
    "err.alarm.unknown": "没有告警 {id}（或无权查看）", "err.alarm.state": "告警 {id} 当前为“{state}”，不能{action}",
    "err.work_order.unknown": "没有工单 {id}（或无权查看）", "err.work_order.state": "工单 {id} 当前为“{order_state}”，不能{action}",
    "err.assignee.role": "{name} 不是{roles}用户", "err.assignee.region": "{name} 不负责站点 {station} 所在的区域",
    "err.station.unknown": "没有站点 {station}（或无权查看）", "err.station.outside": "站点 {station} 不在你的区域内",
    "err.region.outside": "区域 {region} 不在你的区域内", "err.region.unknown": "站点登记中没有区域 {region}",
    "err.region.choose": "请选择一个区域：你可查看 {regions}", "err.permit.mapping": "取水许可应为键值对（或留空表示无许可）",
    "err.period.invalid": "无法识别统计周期 {period}（如 2026-10、2026-10-01、2026-Q3）",
    "err.report.unknown": "报表 {kind}/{name} 尚未生成", "err.reports.scope": "已生成的报表覆盖全部区域：请按你的区域查询",
    "err.range.order": "开始时间应早于结束时间", "err.range.too_long": "时间范围内有 {n} 个区间，超过上限 {max}：请缩短时间范围",
    // --- maps-charts part (issue 20, branch maps-charts): the station map, the charts, the 三率
    // dashboard's trend and drill-down, the printable report, the permits' chart ---
    "map.title": "站点分布", "map.state.online": "在线", "map.state.offline": "离线", "map.state.alarm": "告警",
    "map.state.maintenance": "维护中", "map.state.never": "从未上报", "map.open_alarms": "未关闭告警 {n} 条",
    "map.open_station": "查看站点曲线 →", "map.no_region": "未登记区域", "map.group_counts": "{n} 个站点，{online} 个在线",
    "map.none_found": "没有符合条件的站点", "map.unfold": "展开 {n} 个站点", "map.fold": "收起",
    "map.folded": "站点较多，已按区域折叠：点击区域展开，或用搜索、区域筛选缩小范围。", "map.unplaced": "{n} 个站点未登记坐标",
    "map.plain": "未配置底图（离线模式）：显示行政区划边界与站点。在 cloud.yaml 的 api.map.tiles 设置瓦片地址（如天地图）即可加载底图。",
    "map.plain_no_regions": "未配置底图（离线模式）：站点绘于空白背景。在 cloud.yaml 的 api.map.tiles 设置瓦片地址（如天地图），或用 api.map.regions_geojson 提供行政区划边界。",
    "chart.china_time": "北京时间 (UTC+8)", "chart.min": "最小", "chart.max": "最大", "chart.csv": "导出 CSV",
    "chart.limit.gb5749.high": "GB 5749 上限 {v}", "chart.limit.gb5749.low": "GB 5749 下限 {v}",
    "chart.limit.alarm.high": "告警上限 {v}", "chart.limit.alarm.low": "告警下限 {v}",
    "chart.limit.permit.high": "许可日均 {v}", "chart.limit.permit.low": "许可日均 {v}",
    "chart.limit.plan.high": "计划日均 {v}", "chart.limit.plan.low": "计划日均 {v}",
    "chart.day_volume": "日用水量", "chart.hour_volume": "时用水量", "chart.from_totaliser": "由累计流量差值计算",
    "chart.off_scale": "（超出当前纵轴范围，未画出）",
    "chart.help": "时间为北京时间 (UTC+8)。滚轮或拖动下方滑块缩放、平移；“导出 CSV”导出当前显示范围内的数据；阴影带为降采样区间的最小–最大值。",
    "station.rollups_hour": "{n} 个小时汇总（原始数据已过保留期）", "station.rollups_day": "{n} 个日汇总（原始数据已过保留期）",
    "quality.kind.day": "日", "quality.kind.month": "月", "quality.kind.quarter": "季", "quality.kind.custom": "自定义",
    "quality.print": "打印报表", "quality.trend": "近 12 个月趋势", "quality.trend_hint": "红色点为未达标月份；虚线为目标值",
    "quality.partial": "(至昨日)", "quality.target_line": "目标 ≥ {v}", "quality.abnormal_line": "异常率上限 {v}",
    "quality.slots_hint": "点“明细”查看缺报与迟报时段", "quality.slots_title": "缺报与迟报明细", "quality.close": "关闭",
    "quality.gaps": "缺报时段", "quality.late": "迟报记录", "quality.details": "明细", "quality.col.detail": "明细",
    "quality.col.late": "迟报", "quality.col.from": "开始", "quality.col.to": "结束", "quality.col.slots": "缺报数",
    "quality.col.span": "时长", "quality.col.slot": "应报时段", "quality.col.received": "到达时间", "quality.col.delay": "延迟",
    "quality.slots_summary": "应报 {expected} 条，实报 {received} 条，缺报 {missing} 条（{runs} 段），迟报 {late} 条，时钟超前 {future} 条。",
    "quality.raw_gone": "以下日期的原始数据已过保留期，无法列出明细：{days}。", "quality.any_point": "任一测点",
    "quality.none": "无", "quality.all_regions": "全部区域",
    "quality.reason.upload_rate": "上传率未达标", "quality.reason.timeliness": "及时率未达标",
    "quality.reason.not_reporting_normally": "未正常上报", "quality.reason.abnormal": "数据异常站",
    "quality.stopped_since": "自 {since} 起停报，已 {h} 小时", "quality.abnormal_days_of": "异常 {n} 天 / 在运 {of} 天",
    "quality.print_kind.day": "日报", "quality.print_kind.month": "月报", "quality.print_kind.quarter": "季报",
    "quality.print_kind.custom": "报表", "quality.print_title": "{scope} 监测数据质量{what}（{period}）",
    "quality.print_meta": "统计区间 {first} 至 {last}（北京时间）· 生成于 {at}",
    "problem.stale_rollups": "旧口径汇总",
    "permits.choose": "点击一行查看该许可的年度曲线。", "permits.chart.title": "年度取水曲线",
    "permits.chart.legend": "实线面积：本许可年度累计取水量；紫色虚线：按近期速率的预测；横线：许可水量与告警分级；点线：用水计划。",
    "permits.chart.withdrawn": "累计取水量", "permits.chart.projection": "预测", "permits.chart.plan_steps": "计划累计",
    "permits.chart.permitted": "许可水量 {v}", "permits.chart.reach": "预计 {day} 达到许可",
    "admin.lat": "纬度", "admin.lon": "经度", "admin.location_hint": "WGS-84 度，如 30.259",
    "err.period.too_long": "统计周期 {period} 超过 {max} 天：请选择较短的周期", 
    "err.map.no_regions": "未配置行政区划边界：在 cloud.yaml 的 api.map.regions_geojson 指定 GeoJSON 文件",
  },
  en: {
    "lang.switch": "中文",
    "nav.overview": "Overview", "nav.alarms": "Alarm board", "nav.stations": "Stations", "nav.quality": "Data quality", "nav.crew": "My work orders",
    "nav.logout": "Log out",
    "admin.audit": "Audit log", "admin.when": "When", "admin.client": "From", "admin.action": "Action", "admin.older": "Older entries",
    "admin.chain_ok": "Hash chain intact: none of the {n} entries was changed", "admin.chain_bad": "Hash chain broken at entry {row}: {reason}",
    "nav.admin": "Admin", "admin.denied": "This page is for admins only", "admin.stations": "Station registry", "admin.gateways": "Gateways and keys",
    "admin.interval": "Interval", "admin.points": "Points", "admin.maintenance": "Maintenance windows", "admin.permit": "Permit",
    "admin.edit": "Edit", "admin.save": "Save", "admin.saved": "Station {id} saved", "admin.unit_min": "min", "admin.unit_s": "s",
    "admin.points_hint": "point names separated by semicolons, e.g. flow; total", "admin.maintenance_hint": "one a line: START..END note, e.g. 2026-10-12T08:00..2026-10-12T20:00 pump replaced",
    "admin.permit_id": "Permit id (empty: no permit)", "admin.holder": "Holder", "admin.permitted_m3": "Permitted (m³/year)",
    "admin.year_start": "Permit year starts (MM-DD)", "admin.plan_annual": "Annual plan (m³)", "admin.gateway": "Gateway",
    "admin.keys": "Signing keys (SM2)", "admin.payload_keys": "Payload keys (SM4)",
    "admin.users": "Users and roles", "admin.username": "Username", "admin.password": "Password (10 characters or more, not the user name)", "admin.role": "Role",
    "admin.regions": "Regions", "admin.regions_hint": "region ids separated by semicolons; empty: every region", "admin.all_regions": "every region",
    "admin.create_user": "Create user", "admin.reset": "Reset password", "admin.delete": "Delete", "admin.new_password": "New password", "admin.current_password": "Current password",
    "admin.confirm_delete": "Delete user {name}?", "admin.user_saved": "User {name} saved", "admin.user_deleted": "User {name} deleted",
    "admin.register": "Register gateway", "admin.rotate": "Rotate key", "admin.revoke": "Revoke {key}", "admin.key_id": "Key id",
    "admin.public_key": "SM2 public key (PEM)", "admin.old_valid_until": "Old key valid until (with time zone; empty: now)",
    "admin.revoke_old": "Revoke the old key at once (a leaked key)", "admin.gateway_saved": "Gateway {id} saved",
    "admin.confirm_revoke": "Revoke key {key} of gateway {id}? Everything signed with it will be refused.",
    "admin.routes": "Notification routes", "admin.severities": "Severities",
    "admin.route_roles": "Roles told", "admin.quiet_hours": "Quiet hours", "admin.add_route": "Add route",
    "admin.routes_saved": "Notification routes saved ({n}); the notifier applies them at its next round",
    "admin.confirm_remove_route": "Remove notification route {n}?",
    "admin.email": "E-mail", "admin.phone": "Phone (SMS)", "admin.webhook": "Webhook", "admin.robot": "Group robot", "admin.no_role": "none",
    "admin.save_contact": "Save contact", "admin.contact_saved": "Contact {id} saved", "admin.contact_deleted": "Contact {id} deleted",
    "admin.confirm_delete_contact": "Delete contact {id}?",
    "admin.level": "Escalation level", "admin.reaches": "Reaches", "admin.contacts": "Contacts", "admin.channels": "Channels",
    "role.admin": "Admin", "role.operator": "Operator", "role.crew": "Crew", "role.viewer": "Viewer",
    "key.current": "current", "key.previous": "rotating out, valid until", "key.expired": "expired", "key.revoked": "revoked", "key.retired": "retired",
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
    "nav.permits": "Permits", "nav.fleet": "Gateways",
    "permits.title": "Withdrawal permits", "permits.none": "No permits, or none yours to see", "permits.as_of": "As of {time}",
    "permits.legend": "Bar: this permit year's withdrawal against the permitted volume; ticks are the alarm tiers, the dashed tick the annual plan.",
    "permits.annual_plan": "annual plan {v}", "permits.bar": "{v} withdrawn of {of} permitted", "permits.exceeded_on": "exceeded on {day}",
    "permits.not_reached": "not reached this year at this rate", "permits.method.run_rate": "at the recent rate",
    "permits.method.last_year_profile": "following last year", "permits.rate": "{v} m³/day", "permits.no_plan": "No plan",
    "permits.plan.annual": "Annual plan", "permits.plan.monthly": "Monthly plan", "permits.plan.bimonthly": "Bimonthly plan",
    "permits.below_tiers": "Below every tier",
    "col.permit": "Permit", "col.holder": "Holder", "col.permit_stations": "Metered at", "col.permit_year": "Permit year",
    "col.withdrawal": "Withdrawn / permitted", "col.share": "Share", "col.tier": "Tier", "col.projection": "Projected to reach the permit",
    "col.plan": "Plan (running periods)",
    "fleet.title": "Gateway fleet", "fleet.none": "No gateways, or none yours to see", "fleet.attention": "{n} need attention",
    "fleet.stale_after": "Marked stale after {n} minutes without contact.", "fleet.buffer": "{n} readings + {b} batches pending",
    "fleet.never": "Never", "fleet.clock.status": "estimated from status", "fleet.clock.check_clock": "measured",
    "fleet.status.online": "Online", "fleet.status.stale": "Stale", "fleet.status.offline": "Offline", "fleet.status.stopped": "Stopped", "fleet.status.never": "Never heard",
    "col.gateway": "Gateway", "col.version": "Agent version", "col.config": "Config hash", "col.clock": "Clock offset",
    "col.buffer": "Buffer", "col.last_contact": "Last contact", "col.stations_served": "Stations", "col.conditions": "Conditions",
    "alarms.sound_on": "Sound on", "alarms.sound_off": "Sound off", "alarms.new_red": "New red alarm: {what}",
    // --- alarm-crew part (issue 20, branch alarm-crew): alarm board (ac.*), an alarm's page (al.*),
    // history steps (act.*), the work-order list (wl.*), the crew's phone page (cr.*), its refusals ---
    "ac.workorders": "Work orders →", "ac.region": "Region", "ac.rule": "Rule", "ac.severity": "Severity", "ac.state": "State",
    "ac.time": "Raised", "ac.from": "From", "ac.to": "To", "ac.reset": "Reset", "ac.all": "All",
    "ac.state.open": "Not closed", "ac.state.raised": "Unacknowledged", "ac.state.acknowledged": "Acknowledged",
    "ac.state.cleared": "Cleared, to close", "ac.state.closed": "Closed", "ac.state.all": "All",
    "ac.range.all": "Any time", "ac.range.24h": "Last 24 hours", "ac.range.7d": "Last 7 days", "ac.range.30d": "Last 30 days",
    "ac.range.custom": "Custom", "ac.select_all": "Select all", "ac.pick": "Select alarm {id}",
    "ac.bulk_ack": "Acknowledge ({n})", "ac.bulk_close": "Close ({n})", "ac.bulk_done": "{n} done",
    "ac.bulk_refused": "{n} refused: {why}", "ac.cleared_open": "Cleared, to close", "ac.close": "Close",
    "al.back": "← Alarms", "al.title": "Alarm", "al.timeline": "History", "al.wo": "Work order",
    "al.cleared": "Cleared", "al.acked": "Acknowledged", "al.assignee": "Responsible", "al.closed": "Closed",
    "al.assign_pick": "Choose who…", "al.assign_to": "Assign to", "al.operators": "Operators", "al.crews": "Crews",
    "al.busy": "{n} open", "al.close": "Close alarm", "al.close_note": "Closing note (optional)",
    "al.closed_while": "closed while {state}", "al.comment": "Comment", "al.comment_ph": "Add a comment…",
    "al.crew_needed": "Choose a crew member", "al.crew_pick": "Choose a crew member…",
    "al.no_crew": "No crew covers this station's region", "al.no_id": "The address names no alarm",
    "al.note_optional": "Note (optional)", "al.overdue_note": "work order {id} ({who}) is {min} min overdue",
    "al.photo_alt": "Site photo {n}", "al.photo_ref": "work order {id}: photo {n} ({kb} kB)",
    "al.suppressed": "suppressed: maintenance window", "al.system": "system",
    "al.wo_assign": "Assign", "al.wo_reassign": "Reassign", "al.wo_assignee": "Crew", "al.wo_close": "Close work order",
    "al.wo_create": "Send work order", "al.wo_due": "Due", "al.wo_due_hint": "{h} h by default for {rule}",
    "al.wo_none": "No work order yet", "al.wo_ref": "Work order {id}", "al.wo_report": "Report", "al.wo_title": "Title",
    "act.raised": "Raised", "act.acknowledged": "Acknowledged", "act.assigned": "Assigned", "act.comment": "Comment",
    "act.escalated": "Escalated", "act.flapping": "Flapping", "act.cleared": "Cleared", "act.closed": "Closed",
    "act.work_order.created": "Work order sent", "act.work_order.assigned": "Work order assigned",
    "act.work_order.accepted": "Accepted", "act.work_order.reported": "Reported back", "act.work_order.photo": "Photo added",
    "act.work_order.closed": "Work order closed", "act.work_order.overdue": "Work order overdue",
    "wl.title": "Work orders", "wl.col.id": "No.", "wl.col.title": "Title", "wl.col.state": "State", "wl.col.assignee": "Crew",
    "wl.col.due": "Due", "wl.col.photos": "Photos", "wl.none": "No work orders", "wl.overdue": "Overdue",
    "wl.overdue_n": "{n} overdue", "wl.overdue_only": "Overdue only", "wl.state_open": "Not closed", "wl.unassigned": "Unassigned",
    "wl.due_in": "{time} ({span} left)", "wl.due_late": "{time} ({span} late)",
    "cr.add_photo": "Take / choose a photo", "cr.chosen": "{n} chosen", "cr.clear": "Clear", "cr.discard": "Discard",
    "cr.retry": "Retry", "cr.kind.accept": "Accept", "cr.kind.photo": "Photo", "cr.kind.report": "Report",
    "cr.login_again": "Session ended: log in again and the waiting steps are sent", "cr.map.geo": "Map app",
    "cr.map.amap": "Amap", "cr.map.baidu": "Baidu Maps", "cr.no_location": "No coordinates registered",
    "cr.notes_needed": "Say what was done first", "cr.notes_ph": "What was done, what was replaced, the result…",
    "cr.offline": "Offline: steps are kept on the phone and sent when the network returns",
    "cr.offline_kept": "Offline: orders as saved at {time}; steps are sent when the network returns",
    "cr.outbox": "{n} waiting to send", "cr.photos": "{n} photo(s)", "cr.photos_waiting": "{n} waiting to send",
    "cr.unsent": "Not sent yet",
    "err.assignee.unknown": "There is no user {name}: choose a {roles} user", "err.photo.size": "A photo may be at most {max_kb} kB",
    "err.photo.type": "Only JPEG or PNG photos are accepted", "err.photo.limit": "At most {limit} photos per work order",
    "err.photo.unknown": "Work order {order} has no photo {id} (or not yours to see)",
    "err.idempotency.reuse": "Step key {key} was used for another step", "err.work_order.due": "The due time must lie within the next {days} days",
    "action.add a photo to": "add a photo to it",
    // --- i18n part (issue 20, branch i18n): formats, catalogue of points, units, flags, rules,
    // alarm messages (msg.*), API errors (err.*), features (feature.*), section loader (section.*) ---
    "audit.login": "Log in", "audit.logout": "Log out", "audit.alarm_ack": "Acknowledge alarm {id}",
    "audit.alarm_assign": "Assign alarm {id}", "audit.alarm_comment": "Comment on alarm {id}", "audit.alarm_close": "Close alarm {id}",
    "audit.wo_create": "Create a work order", "audit.wo_assign": "Assign work order {id}", "audit.wo_accept": "Accept work order {id}",
    "audit.wo_report": "Report on work order {id}", "audit.wo_close": "Close work order {id}", "audit.station_put": "Save station {id}",
    "audit.station_delete": "Delete station {id}", "audit.user_create": "Create a user", "audit.user_update": "Change user {id}",
    "audit.user_delete": "Delete user {id}", "audit.user_password": "Reset the password of user {id}",
    "audit.routes_set": "Set notification routes", "audit.contact_put": "Save contact {id}",
    "audit.contact_delete": "Delete contact {id}", "audit.gateway_register": "Register a gateway",
    "audit.gateway_rotate": "Rotate the key of gateway {id}", "audit.gateway_revoke": "Revoke a key of gateway {id}",
    "admin.phone_short": "SMS", "admin.channel": "{name}: {id}",
    "fleet.clock": "{v} s ({how})", "fleet.contact": "{time} · {age} ago",
    "login.title": "Water telemetry and data quality", "login.username": "Username", "login.password": "Password",
    "login.submit": "Log in",
    "console.totals": "Data received", "console.alarms": "Open alarms", "console.latest": "Latest values",
    "console.no_data": "No data yet", "console.envelopes": "Verified envelopes", "console.readings": "Readings",
    "console.refused": "Refused envelopes",
    "fmt.zone": "UTC+8", "bool.on": "On", "bool.off": "Off", "bool.yes": "Yes", "bool.no": "No", "list.sep": ", ", "list.or": " or ",
    "section.loading": "Loading…", "section.failed": "This section could not load: {msg}", "section.retry": "Retry",
    "feature.read_only": "{feature}: managed in cloud.yaml; set {setting} to manage them here",
    "feature.off": "{feature}: not enabled; set {setting} in cloud.yaml to enable",
    "feature.users": "Users", "feature.gateways": "Gateways and keys", "feature.registry": "Station registry",
    "feature.notifications": "Notification routes and contacts", "feature.reports": "Data-quality reports",
    "feature.fleet": "Gateway fleet",
    "err.network": "The server cannot be reached: check the network and try again",
    "err.http.400": "The request could not be read", "err.http.401": "Log in first", "err.http.403": "Not allowed",
    "err.http.404": "No such thing, or not yours to see", "err.http.409": "Not possible in the current state",
    "err.http.422": "Something in the request is not right", "err.http.429": "Too many requests: try again later",
    "err.http.500": "Internal server error", "err.http.503": "Not available right now: try again later",
    "unit.m3/h": "m³/h", "unit.m3": "m³", "unit.m3/d": "m³/day", "unit.degC": "°C", "unit.uS/cm": "μS/cm", "unit.-": "",
    "unit.mg/L": "mg/L", "unit.NTU": "NTU", "unit.pH": "", "unit.MPa": "MPa", "unit.kPa": "kPa", "unit.m": "m",
    "unit.m/s": "m/s", "unit.Hz": "Hz", "unit.A": "A", "unit.V": "V", "unit.mV": "mV", "unit.kW": "kW",
    "unit.kWh": "kWh", "unit.kvarh": "kvarh",
    "point.*": "Whole station", "point.flow": "Flow", "point.total": "Total volume", "point.forward_total": "Forward total",
    "point.net_total": "Net total", "point.velocity": "Velocity", "point.pressure": "Pressure", "point.level": "Level",
    "point.water_column": "Water column", "point.depth_to_water": "Depth to water", "point.turbidity": "Turbidity",
    "point.ph": "pH", "point.free_chlorine": "Free chlorine", "point.residual_chlorine": "Residual chlorine",
    "point.total_chlorine": "Total chlorine", "point.chlorine_dioxide": "Chlorine dioxide", "point.codmn": "CODMn",
    "point.conductivity": "Conductivity", "point.temperature": "Water temperature", "point.dissolved_oxygen": "Dissolved oxygen",
    "point.electrode_mv": "Electrode potential", "point.running": "Running", "point.run_command": "Run command",
    "point.fault_code": "Fault code", "point.remote_mode": "Remote control", "point.speed_setpoint": "Speed setpoint",
    "point.frequency": "Frequency", "point.current": "Current", "point.current_l1": "Current L1",
    "point.current_l2": "Current L2", "point.current_l3": "Current L3", "point.voltage_l1": "Voltage L1",
    "point.voltage_l2": "Voltage L2", "point.voltage_l3": "Voltage L3", "point.power": "Power",
    "point.active_power": "Active power", "point.energy": "Energy", "point.active_energy": "Active energy",
    "point.reactive_energy": "Reactive energy", "point.power_factor": "Power factor",
    "point.sample_flow_ok": "Sample flow OK", "point.cleaning_start": "Electrode cleaning",
    "point.low_alarm_setpoint": "Low alarm setpoint", "point.no_signal": "No signal", "point.signal_quality": "Signal quality",
    "point.firmware_version": "Firmware version", "point.permit": "Permit",
    "flag.OK": "OK", "flag.TIMEOUT": "Timeout", "flag.EXCEPTION": "Device exception", "flag.OUT_OF_RANGE": "Out of range",
    "flag.SENSOR_FAULT": "Sensor fault", "flag.COMM_ERROR": "Communication error", "flag.TOTAL_ROLLOVER": "Totaliser rollover",
    "flag.TOTAL_RESET": "Totaliser reset", "flag.CLOCK_UNSYNCED": "Clock not synchronised",
    "rule.device_fault": "Device fault", "rule.clock_unsynced": "Gateway clock unsynchronised",
    "rule.totaliser_reset": "Totaliser reset", "rule.data_stopped": "Data stopped", "rule.consecutive_zeros": "Consecutive zeros",
    "rule.spike": "Spike value", "rule.volume_change": "Sudden volume change", "rule.water_quality": "Water quality",
    "rule.night_flow": "Night flow rising", "rule.mass_balance": "Mass balance", "rule.burst": "Burst?",
    "rule.over_permit": "Over permit", "rule.over_plan": "Over plan", "rule.over_permit_projected": "Projected over permit",
    "rule.refused_envelope": "Envelope refused", "rule.chain_gap": "Chain gap", "rule.gateway_offline": "Gateway offline",
    "rule.buffer_full": "Gateway buffer full",
    "msg.was": " (escalated from {was})", "msg.part.faults": "{point} ({quality})",
    "msg.part.plans": "{plan} {first} to {last}: {volume} of {planned} {unit} ({share})",
    "msg.device_fault": "Device fault: {faults}", "msg.clock_unsynced": "The gateway clock is not synchronised: sample times may be wrong",
    "msg.totaliser_reset": "{point} went back to {value} {unit}: meter replaced or reset?",
    "msg.data_stopped": "No data since {last_ms} (last sample), expected every {interval_s}; {missed} intervals missed",
    "msg.data_stopped.never": "Nothing since {start_ms} (start of service), expected every {interval_s}",
    "msg.data_stopped.since_start": "No data since {start_ms} (back in service; last sample {last_ms}), expected every {interval_s}",
    "msg.consecutive_zeros": "{point} reported zero {reports} times in a row since {since_ms}",
    "msg.spike.out_of_range": "{point} {value} {unit}, above the meter's range (flagged by the gateway)",
    "msg.spike.above_max": "{point} {value} {unit}, above the maximum flow {limit} {unit}",
    "msg.spike.jump": "{point} jumped {step} {unit} to {value} {unit} in {elapsed_s} (at most {allowed} {unit} allowed)",
    "msg.volume_change": "Day volume {volume} {unit} on {day}: {change_share} from the median {median} {unit} of the {days} days before",
    "msg.water_quality.above": "{point} {value} {unit}, above the limit {limit} {unit} (since {since_ms})",
    "msg.water_quality.below": "{point} {value} {unit}, below the limit {limit} {unit} (since {since_ms})",
    "msg.night_flow": "{point}: minimum night flow {flow} {unit} on the night of {day} ({window}), above the median {median} {unit} of the {nights} nights before (threshold {threshold} {unit})",
    "msg.mass_balance": "Area {area}: inflow {inflow} {unit}, unaccounted {loss} {unit}, above the limit {limit} {unit} (the {window_s} before {until_ms})",
    "msg.burst": "Burst? {flow_point} up from {flow_before} to {flow_after} {flow_unit} ({rise_share}) and {pressure_point} down from {pressure_before} to {pressure_after} {pressure_unit} ({drop_share})",
    "msg.over_permit": "Permit {permit} ({holder}, permit year from {year_start}): {volume} of {permitted} {unit} withdrawn ({share}), past the {tier_share} tier",
    "msg.over_plan": "Permit {permit} ({holder}, permit year from {year_start}): {plans}",
    "msg.over_permit_projected": "Permit {permit} ({holder}, permit year from {year_start}): {volume} {unit} withdrawn ({share}); {method} it reaches the permitted {permitted} {unit} on {date} ({rate} {rate_unit})",
    "msg.chain_gap": "{count} envelopes missing from the chain (seq {missing})", "msg.gateway_offline": "The gateway went offline (last will or clean stop)",
    "msg.buffer_full": "Gateway buffer full: {detail}", "msg.refused_envelope": "Envelope refused: {reason} ({detail})",
    "refusal.bad_signature": "bad signature", "refusal.unknown_key": "unknown key", "refusal.key_revoked": "key revoked",
    "refusal.key_expired": "key expired", "refusal.chain_mismatch": "hash chain broken", "refusal.seq_reused": "sequence number reused",
    "refusal.not_encrypted": "not encrypted", "refusal.topic_mismatch": "wrong topic", "refusal.unknown_station": "unknown station",
    "refusal.truncated": "truncated", "refusal.bad_magic": "not a watertel envelope", "refusal.bad_ciphertext": "cannot be decrypted",
    "refusal.no_payload_key": "no payload key", "refusal.payload_key_expired": "payload key expired",
    "action.acknowledge": "acknowledge it", "action.assign": "assign it", "action.comment on": "comment on it",
    "action.close": "close it", "action.make a work order for": "make a work order for it",
    "action.make a second work order for": "make a second work order for it", "action.assigned": "assign it",
    "action.accepted": "accept it", "action.reported": "report on it", "action.closed": "close it",
    "state.already in a work order": "already in a work order",
    "err.auth.required": "Log in first", "err.auth.csrf": "The session check failed: reload the page and try again",
    "err.auth.role": "The {role} role may not do this (needs {roles})", "err.auth.failed": "Wrong username or password",
    "err.auth.too_many": "Too many failed logins: try again in {wait_s}",
    "err.auth.busy": "Too many logins at once: try again in a moment",
    "err.body.too_large": "What was sent is too large (at most {max_kb} kB)",
    "err.password.short": "A password needs at least {min} characters (a few words are easiest)",
    "err.password.simple": "A password needs at least {min} different characters",
    "err.password.user_name": "A password may not be or contain the user name",
    "err.password.common": "That is a common password: choose another",
    "err.password.current": "To change your own password, give your current one",
    "err.events.closing": "The server is shutting down: reconnect in a moment",
    "err.events.too_many": "At most {max} live streams per user: close one first",
    "err.regions.need_registry": "Regions need the station registry: set {setting} in cloud.yaml",
    "err.regions.unknown": "Not regions of the registry: {regions} (use province, city or county ids)",
    "err.regions.outside": "Give regions within your own: {regions}", "err.user.unknown": "No user {name} (or not within your regions)",
    "err.user.exists": "User {name} exists: choose another name", "err.user.last_admin": "That would leave no admin with every region: make another one first",
    "err.user.self_change": "You cannot change your own role or regions (ask another admin)",
    "err.user.self_delete": "You cannot delete yourself (ask another admin)",
    "err.file.problems": "The {file} file has problems; fix it first: {problems}", "err.invalid": "Something is not right: {problems}",
    "err.request.invalid": "Something in the request is not right: {fields}",
    "err.stations.unknown": "Not in the station registry: {stations} (add them first)",
    "err.gateway.outside": "This gateway has stations outside your regions: not yours to change", "err.gateway.unknown": "No gateway {gateway}",
    "err.gateway.exists": "Gateway {gateway} exists (rotate its key instead)",
    "err.key.current": "{key} is the current key: rotate to a new one and revoke the old one at once",
    "err.key.revoked": "Key {key} is already revoked", "err.key.unknown": "Gateway {gateway} has no key {key}",
    "err.key.bad_pem": "Not an SM2 public key PEM: send the .pub.pem that `watertel keys new` wrote",
    "err.key.file_exists": "Another key with id {key} exists: choose a new key id",
    "err.key.used": "Key id {key} was already used by gateway {gateway}: choose a new one",
    "err.notifications.scope": "Notification routes and contacts serve every region: only an admin with every region changes them",
    "err.id.mismatch": "The id {id} differs from {path} in the address", "err.contact.unknown": "No contact {contact}",
    "err.contact.in_use": "Contact {contact} is named by route {routes}: remove it from those routes first",
    "err.alarm.unknown": "No alarm {id} (or not yours to see)", "err.alarm.state": "Alarm {id} is {state}: cannot {action}",
    "err.work_order.unknown": "No work order {id} (or not yours to see)", "err.work_order.state": "Work order {id} is {order_state}: cannot {action}",
    "err.assignee.role": "{name} is not a user of role {roles}", "err.assignee.region": "{name} does not cover the region of station {station}",
    "err.station.unknown": "No station {station} (or not yours to see)", "err.station.outside": "Station {station} is outside your regions",
    "err.region.outside": "Region {region} is outside your regions", "err.region.unknown": "No region {region} in the registry",
    "err.region.choose": "Choose a region: you see {regions}", "err.permit.mapping": "A permit is a mapping of keys (or empty for none)",
    "err.period.invalid": "Period {period} not understood (e.g. 2026-10, 2026-10-01, 2026-Q3)",
    "err.report.unknown": "Report {kind}/{name} has not been written", "err.reports.scope": "Stored reports cover every region: ask for your region instead",
    "err.range.order": "The start must be before the end", "err.range.too_long": "{n} buckets in the range, more than {max}: choose a shorter range",
    // --- maps-charts part (issue 20, branch maps-charts): the station map, the charts, the 三率
    // dashboard's trend and drill-down, the printable report, the permits' chart ---
    "map.title": "Station map", "map.state.online": "Online", "map.state.offline": "Offline", "map.state.alarm": "Alarm",
    "map.state.maintenance": "Maintenance", "map.state.never": "Never reported", "map.open_alarms": "{n} open alarm(s)",
    "map.open_station": "Open the station's trends →", "map.no_region": "No region", "map.group_counts": "{n} stations, {online} online",
    "map.none_found": "No station matches", "map.unfold": "Show {n} stations", "map.fold": "Hide",
    "map.folded": "Many stations: the list is folded by region. Open a region, or narrow it with the search or a region.", "map.unplaced": "{n} stations without coordinates",
    "map.plain": "No base map configured (offline mode): region boundaries and stations. Set a tile URL (e.g. Tianditu) in cloud.yaml's api.map.tiles to load one.",
    "map.plain_no_regions": "No base map configured (offline mode): stations on a blank background. Set a tile URL (e.g. Tianditu) in cloud.yaml's api.map.tiles, or give region boundaries in api.map.regions_geojson.",
    "chart.china_time": "China time (UTC+8)", "chart.min": "min", "chart.max": "max", "chart.csv": "Export CSV",
    "chart.limit.gb5749.high": "GB 5749 max {v}", "chart.limit.gb5749.low": "GB 5749 min {v}",
    "chart.limit.alarm.high": "Alarm above {v}", "chart.limit.alarm.low": "Alarm below {v}",
    "chart.limit.permit.high": "Permit per day {v}", "chart.limit.permit.low": "Permit per day {v}",
    "chart.limit.plan.high": "Plan per day {v}", "chart.limit.plan.low": "Plan per day {v}",
    "chart.day_volume": "Volume per day", "chart.hour_volume": "Volume per hour", "chart.from_totaliser": "from the totaliser's steps",
    "chart.off_scale": "(outside the axis shown, not drawn)",
    "chart.help": "Times are China time (UTC+8). Zoom and pan with the wheel or the slider below; Export CSV saves what is shown; the band is the min–max of downsampled buckets.",
    "station.rollups_hour": "{n} hour rollups (raw readings aged out)", "station.rollups_day": "{n} day rollups (raw readings aged out)",
    "quality.kind.day": "Day", "quality.kind.month": "Month", "quality.kind.quarter": "Quarter", "quality.kind.custom": "Custom",
    "quality.print": "Print report", "quality.trend": "Last 12 months", "quality.trend_hint": "red points miss their target; dashed lines are the targets",
    "quality.partial": "(to yesterday)", "quality.target_line": "target ≥ {v}", "quality.abnormal_line": "abnormal ≤ {v}",
    "quality.slots_hint": "Details: a station's missing and late reports", "quality.slots_title": "Missing and late reports",
    "quality.close": "Close", "quality.gaps": "Missing", "quality.late": "Late", "quality.details": "Details",
    "quality.col.detail": "Details", "quality.col.late": "Late", "quality.col.from": "From", "quality.col.to": "To",
    "quality.col.slots": "Missing reports", "quality.col.span": "Span", "quality.col.slot": "Slot",
    "quality.col.received": "Received", "quality.col.delay": "Delay",
    "quality.slots_summary": "{expected} expected, {received} received, {missing} missing ({runs} gaps), {late} late, {future} from a clock ahead.",
    "quality.raw_gone": "Raw readings of these days have aged out and cannot be listed: {days}.", "quality.any_point": "any point",
    "quality.none": "None", "quality.all_regions": "All regions",
    "quality.reason.upload_rate": "upload rate below target", "quality.reason.timeliness": "timeliness below target",
    "quality.reason.not_reporting_normally": "not reporting normally", "quality.reason.abnormal": "abnormal station",
    "quality.stopped_since": "stopped since {since}, {h} h", "quality.abnormal_days_of": "{n} abnormal of {of} days in service",
    "quality.print_kind.day": "daily report", "quality.print_kind.month": "monthly report", "quality.print_kind.quarter": "quarterly report",
    "quality.print_kind.custom": "report", "quality.print_title": "{scope}: data quality {what} ({period})",
    "quality.print_meta": "Days {first} to {last} (China time) · made {at}",
    "problem.stale_rollups": "Old-basis rollups",
    "permits.choose": "Click a row for that permit's year as a chart.", "permits.chart.title": "Withdrawal this permit year",
    "permits.chart.legend": "Area: the permit year's running total; purple dashes: the projection at the recent rate; lines: the permitted volume and the alarm tiers; dots: the plan.",
    "permits.chart.withdrawn": "Withdrawn so far", "permits.chart.projection": "Projection", "permits.chart.plan_steps": "Plan, running total",
    "permits.chart.permitted": "Permitted {v}", "permits.chart.reach": "reaches the permit {day}",
    "admin.lat": "Latitude", "admin.lon": "Longitude", "admin.location_hint": "WGS-84 degrees, e.g. 30.259",
    "err.period.too_long": "Period {period} is longer than {max} days: choose a shorter one", 
    "err.map.no_regions": "No region boundaries: name a GeoJSON file in cloud.yaml's api.map.regions_geojson",
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

// Date and time in Asia/Shanghai, whatever the browser's own zone (without the zone shown: new
// code uses fmtDateTime below, which shows it).
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


// --- i18n part (issue 20): formats and catalogue look-ups (documented at the top of this file) ---
const SHANGHAI_MS = 8 * 3600e3;  // Asia/Shanghai keeps UTC+8 all year (no daylight saving)

export function has(key) {
  return Object.prototype.hasOwnProperty.call(STRINGS[lang()], key) || Object.prototype.hasOwnProperty.call(STRINGS.zh, key);
}

// China time whatever the browser's zone: the instant shifted by 8 h and read as UTC.
export function fmtDateTime(ms, {seconds = false, zone = true} = {}) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "—";
  const iso = new Date(Number(ms) + SHANGHAI_MS).toISOString();
  const text = `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)}`;
  return zone ? `${text} (${t("fmt.zone")})` : text;
}

export function fmtDate(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "—";
  return new Date(Number(ms) + SHANGHAI_MS).toISOString().slice(0, 10);
}

// Decimals by unit; points whose value is a state or a count are named below.
const DECIMALS = {"m3/h": 2, "m3": 1, "m3/d": 1, "MPa": 3, "kPa": 1, "m": 2, "m/s": 2, "mg/L": 2, "NTU": 2, "pH": 2,
  "uS/cm": 0, "degC": 1, "V": 1, "A": 1, "mV": 0, "kW": 1, "kWh": 1, "kvarh": 1, "Hz": 1, "%": 1};
const BOOLEAN_POINTS = {running: "onoff", run_command: "onoff", cleaning_start: "onoff", remote_mode: "yesno",
  sample_flow_ok: "yesno", no_signal: "yesno"};
const COUNTER_POINTS = new Set(["fault_code", "firmware_version", "signal_quality"]);
const POINT_DECIMALS = {power_factor: 2};

export function fmtBool(value, meaning = "yesno") {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  const on = typeof value === "boolean" ? value : Number(value) !== 0;
  return t(meaning === "onoff" ? (on ? "bool.on" : "bool.off") : (on ? "bool.yes" : "bool.no"));
}

export function fmtNumber(value, unit = "", point = "") {
  if (value === null || value === undefined || value === "") return "—";
  if (BOOLEAN_POINTS[point]) return fmtBool(value, BOOLEAN_POINTS[point]);
  const v = Number(value);
  if (!Number.isFinite(v)) return "—";
  let digits = POINT_DECIMALS[point] ?? DECIMALS[unit];
  if (COUNTER_POINTS.has(point) || (digits === undefined && Number.isInteger(v))) digits = 0;
  if (digits === undefined) digits = Math.abs(v) >= 1000 ? 0 : Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  const text = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;  // no "-0.00"
}

export function unitName(unit) {
  if (!unit) return "";
  return has(`unit.${unit}`) ? t(`unit.${unit}`) : unit;
}

export function fmtValue(value, unit = "", point = "") {
  const number = fmtNumber(value, unit, point);
  const shown = unitName(unit);
  return number === "—" || BOOLEAN_POINTS[point] || !shown ? number : `${number} ${shown}`;
}

export function fmtPercent(fraction, digits = 1) {
  if (fraction === null || fraction === undefined || !Number.isFinite(Number(fraction))) return "—";
  return `${(Number(fraction) * 100).toFixed(digits)}%`;
}

const named = (prefix) => (id) => (id !== null && id !== undefined && has(`${prefix}.${id}`) ? t(`${prefix}.${id}`) : (id ?? ""));
export const pointName = named("point");
export const flagName = named("flag");
export const ruleName = named("rule");

// Message and error parameters, each shown in the current language: names through their
// catalogue (point, rule, role, kind, feature, state, quality/flag, unit), times (…_ms) in China
// time, shares (…share) as percentages, counts as integers, other numbers by their unit
// (``x_unit`` for ``x_…``, else ``unit``), lists joined.
const PARAM_CATALOGUE = {point: "point", points: "point", flow_point: "point", pressure_point: "point", rule: "rule",
  type: "rule", role: "role", roles: "role", kind: "kind", feature: "feature", file: "feature", state: "state",
  order_state: "wo", action: "action", reason: "refusal", quality: "flag", flags: "flag", unit: "unit",
  flow_unit: "unit", pressure_unit: "unit", rate_unit: "unit", severity: "sev", was: "sev", method: "permits.method",
  plan: "permits.plan"};
const COUNTS = new Set(["n", "count", "intervals", "reports", "days", "nights", "minutes", "missed", "max", "row", "id", "routes"]);

const ALTERNATIVES = new Set(["roles"]);  // lists of which one is enough: the roles a step needs

function fmtParam(name, value, params) {
  if (Array.isArray(value)) {
    const items = value.map((v) => fmtParam(name, v, params));
    if (!ALTERNATIVES.has(name) || items.length < 2) return items.join(t("list.sep"));
    return `${items.slice(0, -1).join(t("list.sep"))}${t("list.or")}${items[items.length - 1]}`;  // 管理员、维修班组或调度员
  }
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return t(`msg.part.${name}`, fmtParams(value));  // one part of a list: faults, plans
  const prefix = PARAM_CATALOGUE[name];
  if (prefix && typeof value === "string") return prefix === "unit" ? unitName(value) : named(prefix)(value);
  if (typeof value !== "number") return String(value);
  if (name.endsWith("_ms")) return fmtDateTime(value);
  if (name.endsWith("_s")) return fmtAge(value * 1000);
  if (name.endsWith("share")) {
    const text = fmtPercent(value, Math.abs(value) >= 0.1 || value === 0 ? 0 : 1);
    return name.startsWith("change") && value > 0 ? `+${text}` : text;  // a change says its direction
  }
  if (COUNTS.has(name)) return String(Math.round(value));
  const unit = params[`${name.split("_")[0]}_unit`] ?? params.unit ?? "";
  return fmtNumber(value, unit, params.point && name === "value" ? params.point : "");
}

export function fmtParams(params = {}) {
  return Object.fromEntries(Object.entries(params || {}).map(([k, v]) => [k, fmtParam(k, v, params)]));
}

export function alarmMessage(alarm) {
  if (alarm && alarm.message_code && has(`msg.${alarm.message_code}`)) {
    const params = fmtParams(alarm.message_params);
    return t(`msg.${alarm.message_code}`, params) + (alarm.message_params?.was ? t("msg.was", params) : "");
  }
  return alarm ? alarm.message ?? "" : "";
}

export function notEnabledText(code, feature, setting) {
  if (code && !code.startsWith("feature.") && has(`err.${code}`)) return t(`err.${code}`);  // e.g. notifications.scope
  return t(code === "feature.off" ? "feature.off" : "feature.read_only", {feature: named("feature")(feature), setting});
}

export function errorText(error) {
  if (!error) return "";
  if (error instanceof TypeError) return t("err.network");  // fetch() failed: no answer at all
  const code = error.code;
  if (code && code.startsWith("feature.")) return notEnabledText(code, error.params?.feature, error.params?.setting);
  if (code && has(`err.${code}`)) return t(`err.${code}`, fmtParams(error.params));
  if (error.message) return error.message;
  return error.status && has(`err.http.${error.status}`) ? t(`err.http.${error.status}`) : String(error);
}
