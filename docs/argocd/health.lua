-- Argo CD health check for bedrocklogging.io/BedrockLoggingPolicy (kstatus conditions).
-- Order matters:
--   1. no status / no conditions yet            -> Progressing (operator has not reported)
--   2. status.observedGeneration < generation    -> Progressing (spec change not seen yet)
--   3. Stalled=True                              -> Degraded    (needs a spec or AWS change)
--   4. Reconciling=True                          -> Progressing (converging, retrying)
--   5. Ready=True                                -> Healthy
--   6. Ready=False, reason NonCompliant (Audit)  -> Degraded    (findings fail; nothing written)
--   7. Ready=False, any other reason             -> Degraded
--   8. Ready missing or Unknown                  -> Progressing
local hs = {}

local function condition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  local text = fallback
  if c.message ~= nil and c.message ~= "" then
    text = c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason .. ": " .. text
  end
  return text
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = obj.status.conditions

local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "Reconciling")
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  if ready.reason == "NonCompliant" then
    hs.message = "Audit: " .. describe(ready, "not compliant")
  else
    hs.message = describe(ready, "Not ready")
  end
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
