// Validates Kubernetes objects against the API's OpenAPI schemas with the
// npm package kubernetes-models (no API server needed). Reads a JSON array
// of objects on stdin; prints one line per object; exits 1 if any is
// invalid or of a kind it does not know.
"use strict";

function modelOf(obj) {
  const [group, version] = obj.apiVersion.includes("/")
    ? obj.apiVersion.split("/")
    : [null, obj.apiVersion];
  const path = group
    ? `kubernetes-models/${group}/${version}/${obj.kind}`
    : `kubernetes-models/${version}/${obj.kind}`;
  return require(path)[obj.kind];
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  let bad = 0;
  for (const obj of JSON.parse(input)) {
    const name = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
    try {
      const Model = modelOf(obj);
      new Model(obj).validate();
      console.log(`valid   ${obj.apiVersion} ${name}`);
    } catch (e) {
      bad++;
      console.log(`INVALID ${obj.apiVersion} ${name}: ${e.message}`);
    }
  }
  process.exit(bad ? 1 : 0);
});
