-- flyte-ls for Neovim 0.7 and newer: the setup the README documents (and tests/e2e/test_e2e_neovim.py runs).
--
-- Use it from init.lua:
--   require("flyte-ls").setup()            -- with this file on your 'runtimepath' as lua/flyte-ls.lua
--   dofile("/path/to/flyte-ls.lua").setup({ cmd = { "/path/to/venv/bin/flyte-ls", "serve" } })
--
-- It starts one flyte-ls client per project root for Python buffers (vim.lsp.start_client, which Neovim 0.7
-- has; vim.lsp.start arrived in 0.8) and keeps the code lenses refreshed.
local M = {}

M.defaults = {
  cmd = { "flyte-ls", "serve" },
  -- Files or folders that mark a project root, searched upward from the buffer in this order.
  root_markers = { "pyproject.toml", "setup.cfg", "setup.py", ".git" },
  -- Sent as initializationOptions and answered for workspace/configuration (section "flyte").
  settings = {},
  codelens = true,
}

local clients = {} -- root dir -> client id

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

local function attach(opts, buf)
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
      on_attach = function(_, bufnr)
        if opts.codelens then
          M.enable_codelens(bufnr)
        end
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

-- Refresh the code lenses of a buffer once flyte-ls is attached to it. Only then: on Neovim 0.7 a refresh
-- requested before any server is attached never completes and blocks every later refresh of that buffer.
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
  local opts = vim.tbl_deep_extend("force", M.defaults, user or {})
  local group = vim.api.nvim_create_augroup("flyte-ls", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = "python",
    callback = function(args)
      attach(opts, args.buf)
    end,
  })
  return opts
end

-- The client ids by project root (for scripts and tests).
function M.clients()
  return clients
end

return M
