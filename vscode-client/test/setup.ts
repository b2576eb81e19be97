// Loaded by mocha before every test file (.mocharc.json): `require("vscode")` returns the stand-in.
import Module from "node:module";
import { createMock } from "./vscodeMock";

const vscodeMock = createMock();
type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
const mod = Module as unknown as { _load: Load };
const original = mod._load;
mod._load = function (request: string, parent: unknown, isMain: boolean) {
  if (request === "vscode") return vscodeMock;
  return original.call(this, request, parent, isMain);
};
