-- wrk: POST /metrics?version=v1 as rudder-server's reporting sends it, one metric object of 10 reports per
-- request, each request a different report (its instance id), so that none is refused as a repeat.
-- Needs WORKSPACE, SOURCE, DESTINATION and AUTH (the Authorization header) in the environment.
local counter = 0
local workspace, source, destination = os.getenv("WORKSPACE"), os.getenv("SOURCE"), os.getenv("DESTINATION")
-- The minute just past, as rudder-server reports it; LATE_MINUTES=10 sends reports for a minute the rollup
-- has already passed (they add to the hour rows too: the slower path).
local minute = math.floor(os.time() / 60) * 60000 - tonumber(os.getenv("LATE_MINUTES") or "1") * 60000

function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
end

request = function()
  counter = counter + 1
  local reports = {}
  for i = 1, 10 do
    reports[i] = string.format(
      '{"state":"%s","count":%d,"statusCode":%d,"sampleResponse":"","sampleEvent":{},"eventName":"Event %d","eventType":"track","errorType":"","violationCount":0}',
      i % 4 == 0 and "failed" or "succeeded", i, i % 4 == 0 and 500 or 200, i)
  end
  local body = string.format(
    '{"workspaceId":"%s","namespace":"","instanceId":"bench-%s-%d","sourceId":"%s","destinationId":"%s","reportedBy":"router","inReportedBy":"dest_transformer","terminalState":true,"initialState":false,"reportedAt":%d,"bucket":%d,"reports":[%s]}',
    workspace, prefix, counter, source, destination, minute, minute, table.concat(reports, ","))
  return wrk.format("POST", "/metrics?version=v1", {["Content-Type"] = "application/json", ["Authorization"] = os.getenv("AUTH")}, body)
end
