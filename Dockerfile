# Repair Room server image: builds the web client, embeds it, and ships one
# static binary.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./web
RUN npm run build:web

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/dist ./web/dist
RUN CGO_ENABLED=0 go build -trimpath -o /out/repairroom ./server

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/repairroom /repairroom
EXPOSE 8080
ENTRYPOINT ["/repairroom"]
