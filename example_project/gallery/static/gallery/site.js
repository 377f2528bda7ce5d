// Marks the page as scripted; proves static JavaScript is served with the right type.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => document.body.classList.add("js"));
