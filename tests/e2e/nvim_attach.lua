-- Headless Neovim 0.7 as a real LSP client of flyte-ls (driven by test_e2e_neovim.py).
-- Attaches `python -m flyte_ls serve` to an example file, collects the code lenses (raw and through
-- vim.lsp.codelens), the flyte/entities result and the diagnostics of a file with mistakes, and writes them as
-- JSON to $FLYTE_NVIM_OUT. Every wait has a deadline; any failure is written as {"error": ...}.
local out = os.getenv("FLYTE_NVIM_OUT")
local root = os.getenv("FLYTE_NVIM_ROOT")
local python = os.getenv("FLYTE_NVIM_PYTHON")
local result = {}

local function finish(err)
  result.error = err or vim.NIL
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qa!")
end

local function run()
  local client_id = vim.lsp.start_client({
    name = "flyte-ls",
    cmd = { python, "-m", "flyte_ls", "serve" },
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = "examples" } },
    settings = { flyte = {} },
  })
  if not client_id then
    return finish("vim.lsp.start_client failed")
  end

  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/workflows/pipeline.py"))
  local buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(buf, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if not vim.wait(20000, function() return client.initialized end, 50) then
    return finish("the server did not initialize within 20 s")
  end

  local params = { textDocument = vim.lsp.util.make_text_document_params(buf) }
  local lens = vim.lsp.buf_request_sync(buf, "textDocument/codeLens", params, 20000)
  if not lens or not lens[client_id] or lens[client_id].err then
    return finish("textDocument/codeLens failed: " .. vim.inspect(lens))
  end
  result.code_lenses = lens[client_id].result

  local ents = vim.lsp.buf_request_sync(buf, "flyte/entities", params, 20000)
  if not ents or not ents[client_id] or ents[client_id].err then
    return finish("flyte/entities failed: " .. vim.inspect(ents))
  end
  result.entities = ents[client_id].result

  -- The editor's own code lens machinery (what the user sees as virtual text).
  vim.lsp.codelens.refresh()
  vim.wait(10000, function() return #vim.lsp.codelens.get(buf) > 0 end, 50)
  result.displayed_lenses = {}
  for _, l in ipairs(vim.lsp.codelens.get(buf)) do
    table.insert(result.displayed_lenses, { line = l.range.start.line, title = l.command and l.command.title or vim.NIL })
  end

  -- Diagnostics of a file with deliberate mistakes.
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/mistakes.py"))
  local mistakes = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(mistakes, client_id)
  vim.wait(20000, function() return #vim.diagnostic.get(mistakes) > 0 end, 50)
  result.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(mistakes)) do
    table.insert(result.diagnostics, { line = d.lnum, code = d.code or vim.NIL, source = d.source or vim.NIL })
  end

  vim.lsp.stop_client(client_id)
  finish(nil)
end

local ok, err = pcall(run)
if not ok then
  finish("Lua error: " .. tostring(err))
end
