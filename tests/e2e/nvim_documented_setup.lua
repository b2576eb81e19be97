-- Headless Neovim 0.7 running the setup the README documents (editors/neovim/flyte-ls.lua), driven by
-- test_e2e_neovim.py: opening a Python file must start flyte-ls through the FileType autocommand, attach it,
-- and show code lenses through vim.lsp.codelens. Results go to $FLYTE_NVIM_OUT as JSON; every wait has a deadline.
local out = os.getenv("FLYTE_NVIM_OUT")
local root = os.getenv("FLYTE_NVIM_ROOT")
local python = os.getenv("FLYTE_NVIM_PYTHON")
local setup_file = os.getenv("FLYTE_NVIM_SETUP")
local result = {}

local function finish(err)
  result.error = err or vim.NIL
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qa!")
end

local function run()
  vim.cmd("filetype on")
  local flyte = dofile(setup_file)
  flyte.setup({ cmd = { python, "-m", "flyte_ls", "serve" }, settings = { lint = { ignore = { "FL021" } } } })

  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/workflows/pipeline.py"))
  local buf = vim.api.nvim_get_current_buf()
  if not vim.wait(20000, function() return #vim.lsp.buf_get_clients(buf) > 0 end, 50) then
    return finish("no LSP client attached to a Python buffer within 20 s")
  end
  local client = vim.lsp.buf_get_clients(buf)[next(vim.lsp.buf_get_clients(buf))]
  result.client_name = client.name
  result.root_dir = client.config.root_dir
  if not vim.wait(20000, function() return client.initialized end, 50) then
    return finish("the server did not initialize within 20 s")
  end
  -- No explicit refresh: the documented setup refreshes the lenses itself once the server is attached.
  if not vim.wait(20000, function() return #vim.lsp.codelens.get(buf) > 0 end, 50) then
    return finish("no code lenses displayed within 20 s")
  end
  result.displayed_lenses = {}
  for _, l in ipairs(vim.lsp.codelens.get(buf)) do
    table.insert(result.displayed_lenses, { line = l.range.start.line, title = l.command and l.command.title or vim.NIL })
  end

  -- A second Python file of the same project reuses the same client; settings from setup() apply.
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/mistakes.py"))
  local mistakes = vim.api.nvim_get_current_buf()
  vim.wait(20000, function() return #vim.diagnostic.get(mistakes) > 0 end, 50)
  result.same_client = vim.lsp.buf_get_clients(mistakes)[client.id] ~= nil
  result.diagnostic_codes = {}
  for _, d in ipairs(vim.diagnostic.get(mistakes)) do
    table.insert(result.diagnostic_codes, d.code or vim.NIL)
  end
  finish(nil)
end

local ok, err = pcall(run)
if not ok then
  finish("Lua error: " .. tostring(err))
end
