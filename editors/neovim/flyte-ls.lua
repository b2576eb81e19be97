-- flyte-ls for Neovim 0.7 and newer: the setup the README documents (and tests/e2e/test_e2e_neovim*.py run).
--
-- Use it from init.lua:
--   require("flyte-ls").setup()            -- with this file on your 'runtimepath' as lua/flyte-ls.lua
--   dofile("/path/to/flyte-ls.lua").setup({ cmd = { "/path/to/venv/bin/flyte-ls", "serve" } })
--
-- It starts one flyte-ls client per project root for Python buffers (vim.lsp.start_client, which Neovim 0.7
-- has; vim.lsp.start arrived in 0.8), keeps the code lenses (▶ Run, ⬆ Register, the outcome of the last run)
-- displayed and refreshed, and adds:
--   :FlyteRun [{"x": 1}]   run the entity under the cursor (flyte.execute); prompts for missing inputs
--   :FlyteRegister         register the entity under the cursor (flyte.register)
--   :FlyteExecutions       the tracked executions (flyte/executions) in the quickfix list
--   :FlyteConsole          open the console of the entity's newest execution (window/showDocument)
-- Status changes (flyte/executionChanged) are echoed with the console URL; the status itself is a
-- diagnostic (source "flyte-exec") on the entity's name. Buffer-local keymaps: see M.defaults.keymaps.
local M = {}

M.defaults = {
  cmd = { "flyte-ls", "serve" },
  -- Files or folders that mark a project root, searched upward from the buffer in this order.
  root_markers = { "pyproject.toml", "setup.cfg", "setup.py", ".git" },
  -- Sent as initializationOptions and answered for workspace/configuration (section "flyte"), e.g.
  -- { endpoint = "localhost:30080", insecure = true, project = "flytesnacks", pythonPath = "/venv/bin/python" }.
  settings = {},
  codelens = true,
  -- Buffer-local mappings set when flyte-ls attaches (false: none; a key set to false: not that one).
  -- <localleader> (a backslash unless set) keeps them apart from global <leader> mappings.
  keymaps = {
    codelens = "<localleader>l", -- run a code lens of the current line (vim.lsp.codelens.run; asks which)
    run = "<localleader>r", -- :FlyteRun
    executions = "<localleader>e", -- :FlyteExecutions
    console = "<localleader>c", -- :FlyteConsole
  },
  -- How a console URL (window/showDocument with external = true) is opened: a function(url) -> boolean, a
  -- command (list, the URL is appended), or nil for the first of xdg-open / open / wslview found. The URL is
  -- always echoed too; false: only echo it.
  browser = nil,
  -- Echo work-done progress (serializing → packaging → uploading → registering → launching).
  progress = true,
}

local clients = {} -- root dir -> client id
local opts = vim.deepcopy(M.defaults)
local phases = {} -- execution name -> last phase echoed

local function notify(msg, level)
  vim.notify("flyte: " .. msg, level or vim.log.levels.INFO)
end

local function find_root(fname, markers)
  local dir = vim.fn.fnamemodify(fname, ":p:h")
  for _, marker in ipairs(markers) do
    local file = vim.fn.findfile(marker, dir .. ";")
    if file ~= "" then
      return vim.fn.fnamemodify(file, ":p:h")
    end
    local folder = vim.fn.finddir(marker, dir .. ";")
    if folder ~= "" then
      return vim.fn.fnamemodify(folder, ":p:h:h")
    end
  end
  return dir
end

-- The flyte-ls client attached to a buffer (else any running flyte-ls client when any_client is set).
local function client_for(bufnr, any_client)
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == "flyte-ls" then
      return client
    end
  end
  if any_client then
    for _, id in pairs(clients) do
      local client = vim.lsp.get_client_by_id(id)
      if client then
        return client
      end
    end
  end
  return nil
end

-- Refresh the lenses of the current buffer, only when flyte-ls is attached to it: on Neovim 0.7 a refresh
-- requested before any server is attached never completes and blocks every later refresh of that buffer.
local function refresh_lenses()
  if opts.codelens and client_for(0) then
    pcall(vim.lsp.codelens.refresh)
  end
end

-- -- console URLs ------------------------------------------------------------------------------------------
function M.open_url(url)
  notify("console " .. url)
  local browser = opts.browser
  if browser == false then
    return false
  end
  if type(browser) == "function" then
    return browser(url) and true or false
  end
  local cmd
  if type(browser) == "table" then
    cmd = vim.list_extend(vim.deepcopy(browser), { url })
  elseif type(browser) == "string" then
    cmd = { browser, url }
  else
    for _, opener in ipairs({ "xdg-open", "open", "wslview" }) do
      if vim.fn.executable(opener) == 1 then
        cmd = { opener, url }
        break
      end
    end
  end
  if not cmd then
    return false
  end
  return vim.fn.jobstart(cmd, { detach = true }) > 0
end

-- -- handlers (per client) ---------------------------------------------------------------------------------
local function execution_line(item)
  local ex = item.execution or {}
  local text = string.format("%s %s (%s)", item.entity or "?", item.phase or "?", ex.name or "?")
  if item.nodesTotal and item.nodesTotal ~= vim.NIL and item.phase == "RUNNING" then
    text = text .. string.format(" %s/%s nodes", tostring(item.nodesDone or 0), tostring(item.nodesTotal))
  end
  if type(item.duration) == "number" then
    text = text .. string.format(" %ds", math.floor(item.duration + 0.5))
  end
  if type(item.error) == "table" and type(item.error.message) == "string" then
    text = text .. ": " .. (vim.split(vim.trim(item.error.message), "\n")[1] or "")
  end
  return text
end

local handlers = {}

-- flyte/executionChanged: echo every phase change with the console URL, refresh the lenses.
handlers["flyte/executionChanged"] = function(_, params)
  if type(params) ~= "table" then
    return
  end
  local name = params.execution and params.execution.name or "?"
  if phases[name] ~= params.phase then
    phases[name] = params.phase
    local level = vim.log.levels.INFO
    if params.phase == "FAILED" or params.phase == "TIMED_OUT" or params.phase == "ABORTED" then
      level = vim.log.levels.ERROR
    end
    local url = type(params.consoleUrl) == "string" and (" " .. params.consoleUrl) or ""
    notify(execution_line(params) .. url, level)
  end
  refresh_lenses()
end

-- window/showDocument (Neovim 0.7 has no handler): a console URL opens in the browser, a file in a window.
handlers["window/showDocument"] = function(_, params)
  if params.external then
    return { success = M.open_url(params.uri) }
  end
  local ok = pcall(vim.cmd, "edit " .. vim.fn.fnameescape(vim.uri_to_fname(params.uri)))
  if ok and params.selection then
    local pos = params.selection.start
    pcall(vim.api.nvim_win_set_cursor, 0, { pos.line + 1, pos.character })
  end
  return { success = ok }
end

-- workspace/codeLens/refresh (the server sends it when an execution's outcome lens changes).
handlers["workspace/codeLens/refresh"] = function()
  refresh_lenses()
  return vim.NIL
end

-- $/progress: Neovim's own handler stores it; echo flyte-ls' steps as well.
handlers["$/progress"] = function(err, result, ctx, config)
  local ret = vim.lsp.handlers["$/progress"](err, result, ctx, config)
  local value = result and result.value
  if opts.progress and type(value) == "table" then
    local text = value.title or value.message or ""
    if value.title and value.message then
      text = value.title .. ": " .. value.message
    end
    if value.kind == "end" then
      text = "done" .. (value.message and (": " .. value.message) or "")
    end
    vim.api.nvim_echo({ { "flyte-ls: " .. text, "Comment" } }, false, {})
  end
  return ret
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.window = caps.window or {}
  caps.window.showDocument = { support = true }
  caps.window.workDoneProgress = true
  caps.workspace = caps.workspace or {}
  caps.workspace.codeLens = { refreshSupport = true }
  return caps
end

-- -- entities and commands ---------------------------------------------------------------------------------
-- The entity under the cursor: the one whose range holds the cursor line, else the nearest one above.
function M.entity_at_cursor(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = client_for(bufnr)
  if not client then
    return nil, "flyte-ls is not attached to this buffer"
  end
  local line = vim.api.nvim_win_get_cursor(0)[1] - 1
  local params = { textDocument = vim.lsp.util.make_text_document_params(bufnr) }
  local resp = client.request_sync("flyte/entities", params, 10000, bufnr)
  local entities = resp and not resp.err and resp.result
  if type(entities) == "table" then
    local above, above_line
    for _, e in ipairs(entities) do
      local r = e.range or e.selectionRange
      if r.start.line <= line and line <= r["end"].line then
        return e.name, client
      end
      if r.start.line <= line and (not above_line or r.start.line > above_line) then
        above, above_line = e, r.start.line
      end
    end
    if above then
      return above.name, client
    end
  end
  -- Fall back on the ▶ Run lenses: the nearest one at or above the cursor.
  local found, found_line
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
    local cmd = lens.command
    if cmd and cmd.command == "flyte.execute" and cmd.arguments and cmd.arguments[1] then
      local l = lens.range.start.line
      if l <= line and (not found_line or l > found_line) then
        found, found_line = cmd.arguments[1].entity, l
      end
    end
  end
  if found then
    return found, client
  end
  return nil, "no Flyte entity at or above the cursor"
end

local function prompt_inputs(missing, inputs)
  for _, m in ipairs(missing) do
    local answer = vim.fn.input(string.format("%s (%s): ", m.name, m.type or "?"))
    if answer == "" then
      return nil
    end
    local ok, value = pcall(vim.fn.json_decode, answer)
    inputs[m.name] = ok and value or answer -- JSON when it parses (1, true, [1,2], {...}), else a string
  end
  return inputs
end

-- Run the entity under the cursor: flyte.execute {uri, entity, inputs?}; missing inputs are asked for.
function M.run(inputs, on_result)
  local bufnr = vim.api.nvim_get_current_buf()
  local entity, client = M.entity_at_cursor(bufnr)
  if not entity then
    notify(client, vim.log.levels.WARN)
    return
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local function execute(given)
    local args = { uri = uri, entity = entity }
    if given and next(given) then
      args.inputs = given
    end
    notify("running " .. entity .. " …")
    client.request("workspace/executeCommand", { command = "flyte.execute", arguments = { args } }, function(err, result)
      if err then
        local missing = type(err.data) == "table" and err.data.missingInputs
        if type(missing) == "table" and #missing > 0 then
          local more = prompt_inputs(missing, vim.deepcopy(given or {}))
          if more then
            return execute(more)
          end
        end
        notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
      else
        notify(string.format("launched %s %s", result.execution.name, result.consoleUrl or ""))
        refresh_lenses()
      end
      if on_result then
        on_result(err, result)
      end
    end, bufnr)
  end
  execute(inputs)
end

function M.register()
  local bufnr = vim.api.nvim_get_current_buf()
  local entity, client = M.entity_at_cursor(bufnr)
  if not entity then
    return notify(client, vim.log.levels.WARN)
  end
  local args = { uri = vim.uri_from_bufnr(bufnr), entity = entity }
  client.request("workspace/executeCommand", { command = "flyte.register", arguments = { args } }, function(err, result)
    if err then
      return notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
    end
    notify(string.format("registered %s version %s %s", entity, result.version, result.consoleUrl or ""))
  end, bufnr)
end

-- The line of an entity's name in a file (for quickfix items): its def or its assignment.
local function entity_lnum(fname, entity)
  local bufnr = vim.fn.bufnr(fname)
  local lines = bufnr ~= -1 and vim.api.nvim_buf_get_lines(bufnr, 0, -1, false) or {}
  if #lines == 0 and vim.fn.filereadable(fname) == 1 then
    lines = vim.fn.readfile(fname)
  end
  local escaped = vim.pesc(entity)
  for i, text in ipairs(lines) do
    if text:match("^%s*def%s+" .. escaped .. "%s*%(") or text:match("^" .. escaped .. "%s*=") then
      return i
    end
  end
  return 1
end

-- The tracked executions (flyte/executions) as quickfix items, newest first.
function M.executions_qf(client)
  local resp = client.request_sync("flyte/executions", {}, 10000, 0)
  if not resp or resp.err then
    return nil, resp and resp.err and resp.err.message or "flyte/executions timed out"
  end
  local items = {}
  for _, item in ipairs(resp.result or {}) do
    local fname = vim.uri_to_fname(item.uri)
    local failed = item.phase == "FAILED" or item.phase == "TIMED_OUT" or item.phase == "ABORTED"
    local console = type(item.consoleUrl) == "string" and (" " .. item.consoleUrl) or ""
    table.insert(items, 1, {
      filename = fname,
      lnum = entity_lnum(fname, item.entity),
      col = 1,
      type = failed and "E" or "I",
      text = execution_line(item) .. console,
    })
  end
  return items
end

function M.executions()
  local client = client_for(0, true)
  if not client then
    return notify("flyte-ls is not running", vim.log.levels.WARN)
  end
  local items, err = M.executions_qf(client)
  if not items then
    return notify(err, vim.log.levels.ERROR)
  end
  vim.fn.setqflist({}, " ", { title = "Flyte executions", items = items })
  if #items > 0 then
    vim.cmd("botright copen")
  else
    notify("no tracked executions")
  end
end

-- Open the console of the newest execution of the entity under the cursor (else its registration).
function M.console()
  local bufnr = vim.api.nvim_get_current_buf()
  local entity, client = M.entity_at_cursor(bufnr)
  if not entity then
    return notify(client, vim.log.levels.WARN)
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local args = { uri = uri, entity = entity }
  local resp = client.request_sync("flyte/executions", { uri = uri }, 10000, bufnr)
  for _, item in ipairs(resp and resp.result or {}) do
    if item.entity == entity then
      args = { execution = item.execution } -- oldest first: the last one wins
    end
  end
  client.request("workspace/executeCommand", { command = "flyte.openConsole", arguments = { args } }, function(err)
    if err then
      notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
    end
  end, bufnr)
end

-- -- attaching -----------------------------------------------------------------------------------------------
local function map_keys(bufnr)
  local keys = opts.keymaps
  if type(keys) ~= "table" then
    return
  end
  local actions = {
    codelens = { vim.lsp.codelens.run, "Flyte: run the code lens of this line" },
    run = { function() M.run() end, "Flyte: run the entity under the cursor" },
    executions = { M.executions, "Flyte: tracked executions (quickfix)" },
    console = { M.console, "Flyte: open the console of the entity's last execution" },
  }
  for name, action in pairs(actions) do
    if type(keys[name]) == "string" and keys[name] ~= "" then
      vim.keymap.set("n", keys[name], action[1], { buffer = bufnr, desc = action[2], silent = true })
    end
  end
end

local function attach(buf)
  local fname = vim.api.nvim_buf_get_name(buf)
  if fname == "" then
    return
  end
  local root = find_root(fname, opts.root_markers)
  local id = clients[root]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client({
      name = "flyte-ls",
      cmd = opts.cmd,
      root_dir = root,
      workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") } },
      init_options = opts.settings,
      settings = { flyte = opts.settings },
      capabilities = capabilities(),
      handlers = handlers,
      on_attach = function(_, bufnr)
        if opts.codelens then
          M.enable_codelens(bufnr)
        end
        map_keys(bufnr)
      end,
    })
    if not id then
      vim.notify("flyte-ls: could not start " .. table.concat(opts.cmd, " "), vim.log.levels.ERROR)
      return
    end
    clients[root] = id
  end
  vim.lsp.buf_attach_client(buf, id)
end

-- Refresh the code lenses of a buffer once flyte-ls is attached to it (see refresh_lenses).
function M.enable_codelens(bufnr)
  local group = vim.api.nvim_create_augroup("flyte-ls-codelens-" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "BufEnter", "InsertLeave", "BufWritePost" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      pcall(vim.lsp.codelens.refresh)
    end,
  })
  if vim.api.nvim_get_current_buf() == bufnr then
    pcall(vim.lsp.codelens.refresh)
  end
end

function M.setup(user)
  opts = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), user or {})
  if user and user.keymaps == false then
    opts.keymaps = false
  end
  local group = vim.api.nvim_create_augroup("flyte-ls", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = "python",
    callback = function(args)
      attach(args.buf)
    end,
  })
  vim.api.nvim_create_user_command("FlyteRun", function(cmd)
    local inputs
    if cmd.args ~= "" then
      local ok, decoded = pcall(vim.fn.json_decode, cmd.args)
      if not ok or type(decoded) ~= "table" then
        return notify('FlyteRun takes the inputs as one JSON object, e.g. :FlyteRun {"x": 1}', vim.log.levels.ERROR)
      end
      inputs = decoded
    end
    M.run(inputs)
  end, { nargs = "?", desc = "Run the Flyte entity under the cursor (flyte.execute)" })
  vim.api.nvim_create_user_command("FlyteRegister", function()
    M.register()
  end, { desc = "Register the Flyte entity under the cursor (flyte.register)" })
  vim.api.nvim_create_user_command("FlyteExecutions", function()
    M.executions()
  end, { desc = "The tracked Flyte executions in the quickfix list" })
  vim.api.nvim_create_user_command("FlyteConsole", function()
    M.console()
  end, { desc = "Open the console of the last execution of the entity under the cursor" })
  return opts
end

-- The client ids by project root (for scripts and tests).
function M.clients()
  return clients
end

return M
