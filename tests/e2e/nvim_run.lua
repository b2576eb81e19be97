-- Headless Neovim 0.7 running an entity with the documented setup (editors/neovim/flyte-ls.lua), driven by
-- test_e2e_neovim_run.py: the server is configured (settings) to a real local backend; `:FlyteRun` on the
-- workflow's line launches it, and the flyte-exec status diagnostic on the entity's name is watched until it says
-- SUCCEEDED. Results go to $FLYTE_NVIM_OUT as JSON; every wait has a deadline.
local out = os.getenv("FLYTE_NVIM_OUT")
local root = os.getenv("FLYTE_NVIM_ROOT")
local python = os.getenv("FLYTE_NVIM_PYTHON")
local setup_file = os.getenv("FLYTE_NVIM_SETUP")
local settings = vim.fn.json_decode(os.getenv("FLYTE_NVIM_SETTINGS"))
local file = os.getenv("FLYTE_NVIM_FILE")
local entity = os.getenv("FLYTE_NVIM_ENTITY")
local run_deadline_ms = tonumber(os.getenv("FLYTE_NVIM_RUN_DEADLINE_MS") or "150000")
local log_file = os.getenv("FLYTE_NVIM_LOG")
local result = { notifications = {}, opened = {}, phases_seen = {}, exec_diagnostics = {} }

local function finish(err)
  result.error = err or vim.NIL
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  -- A graceful shutdown (the server closes its worker), forced after a deadline.
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop()
  end
  vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop(true)
  end
  vim.cmd("qa!")
end

-- What the user would see: every vim.notify of the setup.
vim.notify = function(msg, level)
  table.insert(result.notifications, { msg = tostring(msg), level = level or vim.NIL })
end

local function lens_titles(buf)
  local titles = {}
  for _, l in ipairs(vim.lsp.codelens.get(buf)) do
    table.insert(titles, { line = l.range.start.line, title = l.command and l.command.title or vim.NIL })
  end
  return titles
end

local function exec_diagnostics(buf)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.source == "flyte-exec" then
      table.insert(found, { line = d.lnum, message = d.message, severity = d.severity })
    end
  end
  return found
end

local function run()
  vim.cmd("filetype on")
  local flyte = dofile(setup_file)
  local cmd = { python, "-m", "flyte_ls", "serve", "-v" }
  if log_file then
    vim.list_extend(cmd, { "--log-file", log_file })
  end
  flyte.setup({
    cmd = cmd,
    settings = settings,
    browser = function(url)
      table.insert(result.opened, url)
      return true
    end,
  })

  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
  local buf = vim.api.nvim_get_current_buf()
  if not vim.wait(20000, function() return #vim.lsp.buf_get_clients(buf) > 0 end, 50) then
    return finish("no LSP client attached to a Python buffer within 20 s")
  end
  local client = vim.lsp.buf_get_clients(buf)[next(vim.lsp.buf_get_clients(buf))]
  if not vim.wait(20000, function() return client.initialized end, 50) then
    return finish("the server did not initialize within 20 s")
  end
  result.capabilities = {
    show_document = client.config.capabilities.window.showDocument.support,
    lens_refresh = client.config.capabilities.workspace.codeLens.refreshSupport,
  }

  -- The lenses before the run: ▶ Run on the entity (refreshed by the setup itself).
  if not vim.wait(20000, function() return #vim.lsp.codelens.get(buf) > 0 end, 50) then
    return finish("no code lenses displayed within 20 s")
  end
  result.lenses_before = lens_titles(buf)
  result.keymaps = {}
  for _, key in ipairs({ "l", "r", "e", "c" }) do
    local map = vim.fn.maparg("<localleader>" .. key, "n", false, true)
    result.keymaps[key] = map.buffer == 1 and (map.desc or "") or vim.NIL
  end

  -- The cursor on a line inside the workflow's body, then :FlyteRun.
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local def_line
  for i, text in ipairs(lines) do
    if text:match("^def " .. entity .. "%(") then
      def_line = i
    end
  end
  if not def_line then
    return finish("no `def " .. entity .. "(` in " .. file)
  end
  result.entity_line = def_line - 1
  vim.api.nvim_win_set_cursor(0, { def_line + 1, 4 })
  local picked = flyte.entity_at_cursor(buf)
  result.entity_at_cursor = picked or vim.NIL
  local started = vim.loop.hrtime()
  vim.cmd("FlyteRun")

  -- Wait for the status diagnostic to say SUCCEEDED (or to end otherwise), recording the phases it showed.
  local last = {}
  local done = vim.wait(run_deadline_ms, function()
    local diags = exec_diagnostics(buf)
    for _, d in ipairs(diags) do
      local phase = d.message:match("^[%w_]+: (%u[%u_]+)")
      if phase and result.phases_seen[#result.phases_seen] ~= phase then
        table.insert(result.phases_seen, phase)
        table.insert(result.exec_diagnostics, d)
      end
      last = d
      if phase == "SUCCEEDED" or phase == "FAILED" or phase == "ABORTED" or phase == "TIMED_OUT" then
        return true
      end
    end
    return false
  end, 100)
  result.run_seconds = (vim.loop.hrtime() - started) / 1e9
  result.final_diagnostic = next(last) and last or vim.NIL
  if not done then
    return finish("no final flyte-exec diagnostic within " .. run_deadline_ms .. " ms; last: " .. vim.inspect(last))
  end

  -- The outcome lens arrives with the refresh the server asks for (or the setup's own on the notification).
  vim.wait(10000, function()
    for _, l in ipairs(lens_titles(buf)) do
      if type(l.title) == "string" and l.title:find("SUCCEEDED", 1, true) then
        return true
      end
    end
    return false
  end, 100)
  result.lenses_after = lens_titles(buf)

  -- :FlyteExecutions fills the quickfix list.
  vim.cmd("FlyteExecutions")
  result.quickfix = {}
  for _, item in ipairs(vim.fn.getqflist()) do
    table.insert(result.quickfix, { lnum = item.lnum, text = item.text, type = item.type,
      file = vim.api.nvim_buf_get_name(item.bufnr) })
  end

  -- :FlyteConsole opens the execution's console through window/showDocument (external).
  vim.cmd("wincmd p")
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_win_set_cursor(0, { def_line + 1, 4 })
  vim.cmd("FlyteConsole")
  vim.wait(20000, function() return #result.opened > 0 end, 50)

  -- A task with a required input: :FlyteRun asks for it (vim.fn.input) and runs it with the answer.
  local task_line
  for i, text in ipairs(lines) do
    if text:match("^def add_one%(") then
      task_line = i
    end
  end
  result.task_line = task_line - 1
  result.prompts = {}
  vim.fn.input = function(prompt)
    table.insert(result.prompts, prompt)
    return "41"
  end
  vim.api.nvim_win_set_cursor(0, { task_line, 0 })
  vim.cmd("FlyteRun")
  result.task_diagnostic = vim.NIL
  vim.wait(run_deadline_ms, function()
    for _, d in ipairs(exec_diagnostics(buf)) do
      if d.line == task_line - 1 and (d.message:find("SUCCEEDED", 1, true) or d.message:find("FAILED", 1, true)) then
        result.task_diagnostic = d
        return true
      end
    end
    return false
  end, 100)
  finish(nil)
end

local ok, err = pcall(run)
if not ok then
  finish("Lua error: " .. tostring(err))
end
